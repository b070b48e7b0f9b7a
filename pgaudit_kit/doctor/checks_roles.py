"""Checks of roles and privileges: who may act as a superuser or the kit's owner, write the kit's tables,
read the redaction key, or own an enrolled table."""

from __future__ import annotations

from typing import Any

from .facts import KIT_ADMIN, KIT_OWNER, KIT_READER, Facts
from .items import Item
from .wording import join_names


def check_superusers(f: Facts) -> Item:
    supers = [r for r in f.roles if r.superuser]
    login = [r.name for r in supers if r.login]
    via = [f"{m['role']} (member of {', '.join(m['via'])})" for m in f.superuser_members if m["login"]]
    names = [r.name for r in supers]
    details = {"superusers": names, "login": login, "members": f.superuser_members}
    advice = ("A superuser can switch off the kit's guards (ALTER EVENT TRIGGER ... DISABLE, or SET event_triggers "
              "= off on PostgreSQL 17+) without being refused: the kit then only detects. Keep one break-glass "
              "superuser; give DBAs and applications ordinary roles (pgaudit-kit grant admin for enrolment).")
    if not login and not via:
        return Item("superusers", "ok", "no superuser can log in" + (f" ({join_names(names)} are NOLOGIN)"
                                                                      if supers else ""), details=details)
    if len(login) + len(via) == 1:
        return Item("superusers", "info", f"one role can log in as a superuser: {(login + via)[0]}", advice, details)
    return Item("superusers", "warning", f"{len(login) + len(via)} roles can log in as superusers: "
                f"{join_names(login + via)}", advice, details)


def check_bypassrls(f: Facts) -> Item:
    roles = [r.name for r in f.roles if r.bypassrls and not r.superuser and r.name != KIT_OWNER]
    owner = f.role(KIT_OWNER)
    details = {"roles": roles, "kit_owner_bypassrls": bool(owner and owner.bypassrls)}
    if not roles:
        return Item("bypassrls", "ok", "no role but the kit's owner has BYPASSRLS (the owner needs it to record "
                    "every row a TRUNCATE removes)", details=details)
    return Item("bypassrls", "info", f"roles with BYPASSRLS: {join_names(roles)}",
                "BYPASSRLS does not skip capture (their writes are recorded), but these roles see and change rows "
                "that row-level security hides from others, the kit's own tables included: row-level security is "
                "what keeps pg_write_all_data and pg_read_all_data out of them, so with such a privilege they can "
                "forge history or read the redaction key (kit_table_writers, redaction_key_readers). Keep the list "
                "short.", details)


def check_createrole(f: Facts) -> Item:
    roles = [r.name for r in f.roles if r.createrole and not r.superuser]
    details = {"roles": roles, "server_major": f.server_major}
    if not roles:
        return Item("createrole", "ok", "no role other than superusers has CREATEROLE", details=details)
    if f.server_major <= 15:
        return Item("createrole", "critical",
                    f"roles with CREATEROLE on PostgreSQL {f.server_major}: {join_names(roles)}",
                    "Before PostgreSQL 16, CREATEROLE may grant any non-superuser role: these roles can make "
                    "themselves members of pgaudit_kit_owner (and then write the kit's tables: forge events, an "
                    "unlock, a maintenance window), of pgaudit_kit_admin, or of any table's owner, and can ALTER "
                    "ROLE pgaudit_kit_owner LOGIN. ALTER ROLE ... NOCREATEROLE, or upgrade to PostgreSQL 16+.",
                    details)
    return Item("createrole", "info", f"roles with CREATEROLE: {join_names(roles)}",
                f"On PostgreSQL {f.server_major} CREATEROLE manages only roles it holds ADMIN OPTION on, so not "
                "the kit's roles (the kit_roles item lists ADMIN OPTION holders). Keep the list short.", details)


def check_kit_roles(f: Facts) -> Item:
    owner = f.role(KIT_OWNER)
    owner_members = f.kit_members.get(KIT_OWNER, [])
    admins, readers = f.kit_members.get(KIT_ADMIN, []), f.kit_members.get(KIT_READER, [])
    details = {"owner_can_login": bool(owner and owner.login), KIT_OWNER: owner_members, KIT_ADMIN: admins,
               KIT_READER: readers}

    def show(members: list[dict[str, Any]]) -> str:
        return join_names(m["role"] + (" (ADMIN OPTION)" if m["admin_option"] else "") for m in members)

    if (owner and owner.login) or owner_members:
        problems = (["pgaudit_kit_owner can log in"] if owner and owner.login else []) + (
            [f"members of pgaudit_kit_owner: {show(owner_members)}"] if owner_members else [])
        return Item("kit_roles", "critical", "; ".join(problems),
                    "Whoever can act as pgaudit_kit_owner can INSERT into the kit's tables (row-level security "
                    "does not restrict their owner): forge events and transactions, an unlock, a maintenance window "
                    "past the DDL guards. verify reports this (coverage_privilege), and while it lasts the commit "
                    "check refuses every transaction that runs DDL in a database with the kit. ALTER ROLE "
                    "pgaudit_kit_owner NOLOGIN; REVOKE pgaudit_kit_owner FROM each member.", details)
    if not admins and not readers:
        return Item("kit_roles", "ok", "no role besides superusers holds pgaudit_kit_admin or pgaudit_kit_reader",
                    details=details)
    return Item("kit_roles", "info", f"pgaudit_kit_admin: {show(admins)}; pgaudit_kit_reader: {show(readers)}",
                "Review these memberships. pgaudit-kit grant/revoke record a change; a plain GRANT/REVOKE of a role "
                "is not recorded (PostgreSQL's event triggers do not see role grants).", details)


def _holders(entries: list[dict[str, Any]]) -> str:
    """role (BYPASSRLS, via x, y) for each entry."""
    def one(e: dict[str, Any]) -> str:
        notes = (["BYPASSRLS"] if e["bypassrls"] else []) + ([f"via {', '.join(e['via'])}"] if e["via"] else [])
        return str(e["role"]) + (f" ({', '.join(notes)})" if notes else "")
    return join_names(one(e) for e in entries)


def check_kit_table_writers(f: Facts) -> Item:
    writers, other = f.kit_table_writers, f.kit_other_writers
    unprotected = f.kit_tables_without_row_security
    details = {"writers": writers, "refused_by_row_security": f.kit_table_refused_writers,
               "sequence_or_version_writers": other, "tables_without_row_security": unprotected}
    if writers:
        off = (f" (row-level security is switched off on {join_names(unprotected)})" if unprotected else "")
        return Item("kit_table_writers", "critical",
                    f"roles that may write the kit's tables{off}: {_holders(writers)}",
                    "UPDATE/DELETE/TRUNCATE are refused by the guard triggers, but INSERT is not: these roles can "
                    "forge events and transaction records (sealed as genuine afterwards), an unlock, or a "
                    "maintenance window that lets their DDL past the guards. Row-level security (no INSERT "
                    "policy) stops every role subject to it; these are not: members of the kit's owner or of a "
                    "superuser role, roles with BYPASSRLS, or any role once row-level security is switched off or "
                    "a policy added (see invariants). Revoke the memberships and privileges (pg_write_all_data "
                    "grants INSERT on every table) and BYPASSRLS; as a superuser, switch row-level security back on "
                    "in a recorded maintenance window (SELECT pgaudit_kit.begin_maintenance('reason'); ALTER TABLE "
                    "pgaudit_kit.T ENABLE ROW LEVEL SECURITY; in one transaction); then run verify --full.", details)
    refused = (f"; row-level security refuses the write privileges of {_holders(f.kit_table_refused_writers)}"
               if f.kit_table_refused_writers else "")
    if other:
        return Item("kit_table_writers", "warning",
                    "no role but the kit's owner (and superusers) may write the kit's tables, but these may change "
                    f"its sequences or its version table: {_holders(other)}",
                    "Row-level security does not cover sequences: setval on pgaudit_kit.event_id_seq makes every "
                    "audited write fail (duplicate event ids), on checkpoint_id_seq every checkpoint, and on "
                    "lockdown_event_id_seq a later lockdown fails or, numbered below an earlier unlock, is silently "
                    "ineffective (the newest id is taken as the state). Rewriting alembic_version misleads "
                    "pgaudit-kit install about the installed revision. Revoke the privileges (pg_write_all_data "
                    "grants UPDATE on every sequence and table).", details)
    return Item("kit_table_writers", "ok",
                f"nobody but the kit's owner (and superusers) may write the kit's tables{refused}", details=details)


def check_redaction_key_readers(f: Facts) -> Item:
    readers = f.redaction_key_readers
    replication = [r.name for r in f.roles if r.replication and not r.superuser]
    view = f.history_view_readers
    details = {"readers": readers, "refused_by_row_security": f.redaction_key_refused_readers,
               "history_view_readers": view, "replication_roles": replication}
    if readers:
        return Item("redaction_key_readers", "warning",
                    f"roles that may read pgaudit_kit.redaction_key: {_holders(readers)}",
                    "With the key, a guess of a redacted value (an email, a phone number) can be tested against "
                    "its recorded digest. Row-level security hides the key from every role subject to it; these "
                    "are not (members of the kit's owner, roles with BYPASSRLS, or row-level security switched "
                    "off or a policy added: see invariants). Revoke the memberships and privileges "
                    "(pg_read_all_data grants SELECT on every table) and remove BYPASSRLS.", details)
    findings: list[str] = []
    advice: list[str] = []
    if view:
        findings.append(f"roles without a kit role that may read recorded history through the kit's views: "
                        f"{_holders(view)}")
        advice.append("Row-level security hides the kit's tables and the redaction key from them, but the views "
                      "(pgaudit_kit.change, recorded_event, staged_event) run as the kit's owner: they read every "
                      "recorded row image (redacted columns as digests), who did it and the statements, and such "
                      "reads are not recorded as reviews. Revoke pg_read_all_data (or the grant) if they should not; "
                      "give reviewers pgaudit-kit grant reader instead.")
    if replication:
        findings.append(f"roles with REPLICATION (can copy the whole cluster, key included): {join_names(replication)}")
        advice.append("A base backup holds the redaction key and all history: keep replication roles and backups "
                      "as protected as the database.")
    if findings:
        return Item("redaction_key_readers", "info", "; ".join(findings), " ".join(advice), details)
    refused = (f"; row-level security hides it from {_holders(f.redaction_key_refused_readers)}"
               if f.redaction_key_refused_readers else "")
    return Item("redaction_key_readers", "ok",
                f"only the kit's owner (and superusers) may read the redaction key{refused}", details=details)


def check_table_owners(f: Facts) -> Item:
    owners = [o for o in f.table_owners if not o["superuser"]]
    details = {"owners": f.table_owners}
    if not owners:
        return Item("table_owners", "ok", "enrolled tables are owned by superusers only" if f.table_owners
                    else "no table is enrolled", details=details)
    login = sorted({o["owner"] for o in owners if o["login"]} | {m for o in owners for m in o["login_members"]})
    return Item("table_owners", "info",
                "owners of enrolled tables: " + join_names(o["owner"] for o in owners)
                + (f"; login roles with owner rights: {join_names(login)}" if login else ""),
                "While the kit's event triggers run, owners cannot drop, disable or make replica-only the capture "
                "triggers, nor drop the table. They can still change data by DDL, which is recorded as a DDL event "
                "with its statement, not as row images: ALTER COLUMN ... TYPE ... USING, DROP COLUMN, DETACH or "
                "ATTACH PARTITION. Prefer NOLOGIN owner roles used only by migrations.", details)
