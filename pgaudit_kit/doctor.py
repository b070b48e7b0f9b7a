"""`pgaudit-kit doctor`: a hardening report. Reads the catalog, settings and the kit's metadata once
(:func:`read_facts`), then judges each item with a small pure function (``check_*``) that returns an
:class:`Item` with a severity and advice. The anchor directory and the signing key are checked on the
machine doctor runs on.

Severities: ``ok`` (as it should be), ``info`` (worth knowing, nothing to fix), ``warning``
(protection is weaker than it should be, or an operation is overdue), ``critical`` (capture or the
kit's guards are broken now, someone can forge or silently stop the record, or tampering shows).
The report fails (exit 1) when any item is a warning or critical.

Doctor reads review and verify history (metadata of the log), so it records a review event (command
``doctor``) first, like every other read through the kit; it needs the reader or admin role.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from . import anchors, db, installer, lockdown, reviews, sealing, signing
from .errors import UsageError

SEVERITIES = ("ok", "info", "warning", "critical")
FAILING = frozenset({"warning", "critical"})

# The kit's event triggers, as pgaudit_kit.invariant_problems() lists them; any other pgaudit_kit_* event
# trigger found in the database is judged too.
KIT_EVENT_TRIGGERS = ("pgaudit_kit_check_ddl", "pgaudit_kit_ddl_command_end", "pgaudit_kit_guard_drop",
                      "pgaudit_kit_note_objects", "pgaudit_kit_refuse_guard_drop", "pgaudit_kit_sql_drop")
KIT_OWNER = "pgaudit_kit_owner"
KIT_ADMIN = "pgaudit_kit_admin"
KIT_READER = "pgaudit_kit_reader"
WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")


# ---------------------------------------------------------------------------------------------------
# Items, thresholds, durations


@dataclass(frozen=True)
class Item:
    """One line of the report. *details* holds the objects behind the finding (JSON-serialisable)."""

    id: str
    severity: str
    finding: str
    advice: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    accepted: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "finding": self.finding, "advice": self.advice,
                "accepted": self.accepted, "details": self.details}


@dataclass(frozen=True)
class Thresholds:
    """Ages (seconds) beyond which the backlog, the newest checkpoint and the last clean verify are late."""

    max_backlog_age: float = 300.0
    max_checkpoint_age: float = 3600.0
    max_verify_age: float = 86400.0

    def as_dict(self) -> dict[str, float]:
        return {"max_backlog_age_seconds": self.max_backlog_age,
                "max_checkpoint_age_seconds": self.max_checkpoint_age,
                "max_verify_age_seconds": self.max_verify_age}


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def parse_duration(text: str) -> float:
    """Seconds in *text*: ``90``, ``90s``, ``15m``, ``1h``, ``2d`` or combinations such as ``1h30m``.

    Raises UsageError for anything else."""
    spec = text.strip().lower()
    parts = _DURATION.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        raise UsageError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 2d)")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_age(seconds: float) -> str:
    """A short human age: ``42s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


# ---------------------------------------------------------------------------------------------------
# Facts read from the database (one snapshot)


@dataclass(frozen=True)
class Role:
    name: str
    superuser: bool
    login: bool
    createrole: bool
    bypassrls: bool
    replication: bool


@dataclass(frozen=True)
class Facts:
    """What doctor reads from the database, in one REPEATABLE READ snapshot."""

    database: str
    server_version: str
    server_major: int
    origin: str
    installed_revision: str | None  # None: this role may not read pgaudit_kit.alembic_version
    newest_revision: str
    roles: list[Role]
    superuser_members: list[dict[str, Any]]  # non-superusers that may SET ROLE to a superuser
    kit_members: dict[str, list[dict[str, Any]]]  # kit role -> [{"role", "login", "direct", "admin_option"}]
    invariant_problems: list[dict[str, str]]
    event_triggers: dict[str, str | None]  # kit event trigger -> evtenabled (None: missing)
    event_triggers_setting: str | None  # PostgreSQL >= 17
    event_triggers_overrides: list[dict[str, Any]]
    event_triggers_grantees: list[dict[str, str]]
    settings: dict[str, str]
    setting_overrides: list[dict[str, Any]]
    table_owners: list[dict[str, Any]]
    # Roles that may write / read the kit's tables, as PostgreSQL would let them: privileges (grants,
    # pg_write_all_data / pg_read_all_data, membership) that row-level security does not refuse. Each entry:
    # {"role", "login", "bypassrls", "privileges", "via"}. The *_refused lists hold what row-level security refuses.
    kit_table_writers: list[dict[str, Any]]
    kit_table_refused_writers: list[dict[str, Any]]
    kit_other_writers: list[dict[str, Any]]  # setval on the kit's sequences, writes to its version table
    kit_tables_without_row_security: list[str]
    redaction_key_readers: list[dict[str, Any]]
    redaction_key_refused_readers: list[dict[str, Any]]
    history_view_readers: list[dict[str, Any]]  # no kit role, yet may read pgaudit_kit.change (runs as its owner)
    backlog: sealing.Backlog
    newest_checkpoint: dict[str, Any] | None
    last_verify: dict[str, Any] | None
    last_clean_verify: dict[str, Any] | None
    lockdown: lockdown.LockdownState
    lockdown_age: float | None
    lockdown_unrecorded: list[dict[str, Any]]  # lockdown_event rows without the control event lockdown() writes

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)


def _rows(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] | Mapping[str, Any] = ()
          ) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def _one(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    rows = _rows(conn, query, params)
    return rows[0] if rows else None


def _read_roles(conn: psycopg.Connection[Any]) -> list[Role]:
    """Every role but PostgreSQL's predefined ``pg_*`` roles (whose members are what matters)."""
    return [Role(r["rolname"], r["rolsuper"], r["rolcanlogin"], r["rolcreaterole"], r["rolbypassrls"],
                 r["rolreplication"]) for r in _rows(conn, """
        SELECT rolname::text, rolsuper, rolcanlogin, rolcreaterole, rolbypassrls, rolreplication
          FROM pg_catalog.pg_roles WHERE rolname::text !~ '^pg_' ORDER BY rolname""")]


def _read_superuser_members(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Non-superuser roles that are members of a superuser role: they can SET ROLE to it."""
    return _rows(conn, """
        SELECT m.rolname::text AS role, m.rolcanlogin AS login,
               array_agg(s.rolname::text ORDER BY s.rolname) AS via
          FROM pg_catalog.pg_roles m JOIN pg_catalog.pg_roles s
            ON s.rolsuper AND s.oid <> m.oid AND pg_catalog.pg_has_role(m.oid, s.oid, 'MEMBER')
         WHERE NOT m.rolsuper
         GROUP BY m.rolname, m.rolcanlogin ORDER BY 1""")


def _read_kit_members(conn: psycopg.Connection[Any]) -> dict[str, list[dict[str, Any]]]:
    """Non-superuser roles that are members of each kit role, directly or through other roles."""
    rows = _rows(conn, """
        SELECT k.rolname::text AS kit_role, m.rolname::text AS role, m.rolcanlogin AS login,
               EXISTS (SELECT FROM pg_catalog.pg_auth_members a WHERE a.roleid = k.oid AND a.member = m.oid) AS direct,
               EXISTS (SELECT FROM pg_catalog.pg_auth_members a
                        WHERE a.roleid = k.oid AND a.member = m.oid AND a.admin_option) AS admin_option
          FROM pg_catalog.pg_roles k CROSS JOIN pg_catalog.pg_roles m
         WHERE k.rolname IN (%s, %s, %s) AND m.oid <> k.oid AND NOT m.rolsuper
           AND pg_catalog.pg_has_role(m.oid, k.oid, 'MEMBER')
         ORDER BY 1, 2""", (KIT_OWNER, KIT_ADMIN, KIT_READER))
    members: dict[str, list[dict[str, Any]]] = {KIT_OWNER: [], KIT_ADMIN: [], KIT_READER: []}
    for row in rows:
        members[row.pop("kit_role")].append(row)
    return members


def _read_event_triggers(conn: psycopg.Connection[Any]) -> dict[str, str | None]:
    """State (evtenabled) of each of the kit's event triggers; None for one that is missing."""
    found: dict[str, str | None] = {r["evtname"]: r["evtenabled"] for r in _rows(conn, """
        SELECT evtname::text, evtenabled::text FROM pg_catalog.pg_event_trigger
         WHERE evtname = ANY (%s) OR evtname::text LIKE 'pgaudit\\_kit\\_%%'""", (list(KIT_EVENT_TRIGGERS),))}
    return {name: found.get(name) for name in sorted(set(KIT_EVENT_TRIGGERS) | set(found))}


def _read_setting_overrides(conn: psycopg.Connection[Any], pattern: str) -> list[dict[str, Any]]:
    """ALTER DATABASE / ALTER ROLE settings whose name matches *pattern* (a regular expression)."""
    return _rows(conn, """
        SELECT (SELECT d.datname::text FROM pg_catalog.pg_database d WHERE d.oid = s.setdatabase) AS database,
               (SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid = s.setrole) AS role,
               split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS value
          FROM pg_catalog.pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c
         WHERE split_part(c, '=', 1) ~ %s
         ORDER BY 1 NULLS FIRST, 2 NULLS FIRST, 3""", (pattern,))


def _read_parameter_grantees(conn: psycopg.Connection[Any], parameter: str, major: int) -> list[dict[str, str]]:
    """Roles granted SET or ALTER SYSTEM on *parameter* (GRANT ... ON PARAMETER exists from PostgreSQL 15)."""
    if major < 15:
        return []
    return _rows(conn, """
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS role,
               a.privilege_type AS privilege
          FROM pg_catalog.pg_parameter_acl p CROSS JOIN LATERAL pg_catalog.aclexplode(p.paracl) a
         WHERE p.parname = %s ORDER BY 1, 2""", (parameter,))


def _read_table_owners(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Owners of enrolled tables (and of their partitions), with the login roles that hold their rights."""
    return _rows(conn, """
        SELECT r.rolname::text AS owner, r.rolsuper AS superuser, r.rolcanlogin AS login,
               array_agg(DISTINCT t.rel::text ORDER BY t.rel::text) AS tables,
               ARRAY(SELECT m.rolname::text FROM pg_catalog.pg_roles m
                      WHERE m.rolcanlogin AND NOT m.rolsuper AND m.oid <> r.oid
                        AND pg_catalog.pg_has_role(m.oid, r.oid, 'MEMBER') ORDER BY 1) AS login_members
          FROM pgaudit_kit.enrolled_table e
          CROSS JOIN LATERAL (SELECT e.relid::regclass UNION
                              SELECT p.relid FROM pg_catalog.pg_partition_tree(e.relid::regclass) p) t(rel)
          JOIN pg_catalog.pg_class c ON c.oid = t.rel
          JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
         GROUP BY r.rolname, r.rolsuper, r.rolcanlogin, r.oid
         ORDER BY 1""")


# The command a privilege is checked for by row-level security (pg_policy.polcmd); TRUNCATE is not subject to it.
_POLICY_COMMAND = {"SELECT": "r", "INSERT": "a", "UPDATE": "w", "DELETE": "d"}


def _read_privilege_holders(conn: psycopg.Connection[Any], relations: str, privileges: Sequence[str]
                            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Non-superuser roles other than the kit owner (and PostgreSQL's predefined roles, whose members are what
    matters) that hold one of *privileges* on the kit tables matching *relations* (a regular expression on
    the name): granted, inherited (including pg_write_all_data / pg_read_all_data) or through a role they
    may SET ROLE to (a member of a superuser role is listed too: it may write everything).

    Returns (usable, refused). A privilege is usable when row-level security does not stand in the way of
    the role holding it: the table has it switched off, the holder is a superuser, has BYPASSRLS or the
    owner's rights (without FORCE ROW LEVEL SECURITY), or a permissive policy for that command applies to
    it; TRUNCATE is never subject to it. The kit's tables have row-level security with a SELECT policy
    for its own roles only, so a member of pg_write_all_data holds INSERT everywhere but may use none of
    it (refused), while a member of the kit's owner may (usable)."""
    rows = _rows(conn, """
        WITH kit AS (
          SELECT c.oid, c.relname::text AS relname, c.relowner, c.relrowsecurity, c.relforcerowsecurity
            FROM pg_catalog.pg_class c
           WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'p')
             AND c.relname::text !~ '^alembic_version' AND c.relname::text ~ %(relations)s),
        holders AS (
          SELECT h.oid, h.rolname::text AS holder, p.privilege || ' ON pgaudit_kit.' || k.relname AS privilege,
                 (p.policy_command IS NULL OR NOT k.relrowsecurity OR h.rolsuper OR h.rolbypassrls
                  OR (NOT k.relforcerowsecurity AND pg_catalog.pg_has_role(h.oid, k.relowner, 'USAGE'))
                  OR EXISTS (
                       SELECT FROM pg_catalog.pg_policy pol
                        WHERE pol.polrelid = k.oid AND pol.polpermissive
                          AND pol.polcmd::text IN ('*', p.policy_command)
                          AND EXISTS (SELECT FROM unnest(pol.polroles) r(oid)
                                       WHERE CASE WHEN r.oid = 0 THEN true  -- TO PUBLIC
                                                  ELSE pg_catalog.pg_has_role(h.oid, r.oid, 'USAGE') END))) AS usable
            FROM pg_catalog.pg_roles h CROSS JOIN kit k
            CROSS JOIN unnest(%(privileges)s::text[], %(commands)s::text[]) p(privilege, policy_command)
           WHERE pg_catalog.has_table_privilege(h.oid, k.oid, p.privilege))
        SELECT m.rolname::text AS role, m.rolcanlogin AS login, m.rolbypassrls AS bypassrls,
               h.holder, h.privilege, h.usable
          FROM pg_catalog.pg_roles m JOIN holders h ON pg_catalog.pg_has_role(m.oid, h.oid, 'MEMBER')
         WHERE NOT m.rolsuper AND m.rolname <> %(owner)s AND m.rolname::text !~ '^pg_'""",
                 {"relations": relations, "privileges": list(privileges),
                  "commands": [_POLICY_COMMAND.get(p) for p in privileges], "owner": KIT_OWNER})
    return _group_by_role(rows)


def _group_by_role(rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(role, login, bypassrls, holder, privilege, usable) rows -> (usable, refused) lists of {"role",
    "login", "bypassrls", "privileges", "via"}: a privilege is usable if any holder may use it; *via* names
    the holders (other than the role itself) it comes through."""
    roles: dict[str, tuple[dict[str, Any], dict[str, set[str]], dict[str, set[str]]]] = {}
    for row in rows:
        attributes, usable, refused = roles.setdefault(
            row["role"], ({"login": row["login"], "bypassrls": row["bypassrls"]}, {}, {}))
        (usable if row["usable"] else refused).setdefault(row["privilege"], set()).add(row["holder"])
    usable_list: list[dict[str, Any]] = []
    refused_list: list[dict[str, Any]] = []
    for role, (attributes, usable, refused) in sorted(roles.items()):
        # a usable privilege comes through every role holding it (pg_write_all_data for a BYPASSRLS member)
        usable_via = {p: h | refused.get(p, set()) for p, h in usable.items()}
        only_refused = {p: h for p, h in refused.items() if p not in usable}
        for target, held in ((usable_list, usable_via), (refused_list, only_refused)):
            if held:
                target.append({"role": role, **attributes, "privileges": sorted(held),
                               "via": sorted(set().union(*held.values()) - {role})})
    return usable_list, refused_list


def _read_other_writers(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Roles (as for _read_privilege_holders) that may change the kit's sequences (setval needs UPDATE) or its
    version table. Row-level security covers neither: pg_write_all_data reaches both."""
    rows = _rows(conn, """
        WITH holders AS (
          SELECT h.oid, h.rolname::text AS holder, 'UPDATE ON ' || s.oid::regclass::text AS privilege, true AS usable
            FROM pg_catalog.pg_class s CROSS JOIN pg_catalog.pg_roles h
           WHERE s.relnamespace = 'pgaudit_kit'::regnamespace AND s.relkind = 'S'
             AND pg_catalog.has_sequence_privilege(h.oid, s.oid, 'UPDATE')
          UNION ALL
          SELECT h.oid, h.rolname::text, p.privilege || ' ON ' || v.oid::regclass::text, true
            FROM pg_catalog.pg_class v CROSS JOIN pg_catalog.pg_roles h
           CROSS JOIN unnest(%(privileges)s::text[]) p(privilege)
           WHERE v.relnamespace = 'pgaudit_kit'::regnamespace AND v.relname = 'alembic_version'
             AND pg_catalog.has_table_privilege(h.oid, v.oid, p.privilege))
        SELECT m.rolname::text AS role, m.rolcanlogin AS login, m.rolbypassrls AS bypassrls,
               h.holder, h.privilege, h.usable
          FROM pg_catalog.pg_roles m JOIN holders h ON pg_catalog.pg_has_role(m.oid, h.oid, 'MEMBER')
         WHERE NOT m.rolsuper AND m.rolname <> %(owner)s AND m.rolname::text !~ '^pg_'""",
                 {"privileges": list(WRITE_PRIVILEGES), "owner": KIT_OWNER})
    return _group_by_role(rows)[0]


def _read_history_view_readers(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Roles (as for _read_privilege_holders) without a kit role that may read the view pgaudit_kit.change, e.g.
    through pg_read_all_data. The view runs as its owner, the kit's owner, whom row-level security does not
    restrict: it shows them every recorded event that the kit's tables hide from them."""
    rows = _rows(conn, """
        WITH holders AS (
          SELECT h.oid, h.rolname::text AS holder, 'SELECT ON ' || v.oid::regclass::text AS privilege, true AS usable
            FROM pg_catalog.pg_class v CROSS JOIN pg_catalog.pg_roles h
           WHERE v.relnamespace = 'pgaudit_kit'::regnamespace AND v.relname = 'change' AND v.relkind = 'v'
             AND pg_catalog.has_table_privilege(h.oid, v.oid, 'SELECT')
             AND pg_catalog.has_schema_privilege(h.oid, v.relnamespace, 'USAGE'))
        SELECT m.rolname::text AS role, m.rolcanlogin AS login, m.rolbypassrls AS bypassrls,
               h.holder, h.privilege, h.usable
          FROM pg_catalog.pg_roles m JOIN holders h ON pg_catalog.pg_has_role(m.oid, h.oid, 'MEMBER')
         WHERE NOT m.rolsuper AND m.rolname <> %(owner)s AND m.rolname::text !~ '^pg_'
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles k WHERE k.rolname IN (%(admin)s, %(reader)s)
                            AND pg_catalog.pg_has_role(m.oid, k.oid, 'MEMBER'))""",
                 {"owner": KIT_OWNER, "admin": KIT_ADMIN, "reader": KIT_READER})
    return _group_by_role(rows)[0]


def _read_tables_without_row_security(conn: psycopg.Connection[Any]) -> list[str]:
    """The kit's tables (its version table aside) on which row-level security is switched off."""
    return [r["name"] for r in _rows(conn, """
        SELECT c.oid::regclass::text AS name FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'p')
           AND c.relname::text !~ '^alembic_version' AND NOT c.relrowsecurity
         ORDER BY 1""")]


def _read_newest_checkpoint(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    return _one(conn, """
        SELECT id, tree_size, note, created_by,
               to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
               EXTRACT(epoch FROM now() - created_at)::float8 AS age_seconds
          FROM pgaudit_kit.checkpoint ORDER BY id DESC LIMIT 1""")


def _read_verify_result(conn: psycopg.Connection[Any], clean_only: bool) -> dict[str, Any] | None:
    """The newest `verify-result` review event (or the newest clean one), with who recorded it."""
    return _one(conn, """
        SELECT e.id AS event_id,
               to_char(e.statement_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS recorded_at,
               EXTRACT(epoch FROM now() - e.statement_ts)::float8 AS age_seconds,
               COALESCE((e.row_data->'filter'->>'clean')::boolean, false) AS clean,
               e.row_data->'filter' AS outcome, t.session_role, t.acting_role
          FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
         WHERE e.op = 'R' AND e.row_data->>'command' = 'verify-result'
           AND (NOT %s OR (e.row_data->'filter'->>'clean')::boolean)
         ORDER BY e.id DESC LIMIT 1""", (clean_only,))


def _read_lockdown_unrecorded(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Rows of pgaudit_kit.lockdown_event that pgaudit_kit.set_lockdown() did not write: it records, in the
    same transaction, a control event with the same action and reason, whose transaction started when
    the row was written (acted_at defaults to now(), the transaction's start)."""
    return _rows(conn, """
        SELECT l.id, l.locked, l.reason, l.acted_by,
               to_char(l.acted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS acted_at
          FROM pgaudit_kit.lockdown_event l
         WHERE NOT EXISTS (
                 SELECT FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t ON t.xid = e.xid
                  WHERE e.op = 'K' AND e.relid IS NULL AND t.xact_start = l.acted_at
                    AND e.row_data->>'action' = CASE WHEN l.locked THEN 'lockdown' ELSE 'unlock' END
                    AND e.row_data->>'reason' = l.reason)
         ORDER BY l.id""")


def _read_installed_revision(conn: psycopg.Connection[Any]) -> str | None:
    """The installed revision, or None when this role may not read it (the version table belongs to the
    installing superuser; readers and admins have no privilege on it)."""
    try:
        with conn.transaction():
            return installer.current_revision(conn)
    except psycopg.errors.InsufficientPrivilege:
        return None


def _read_lockdown_age(conn: psycopg.Connection[Any]) -> float | None:
    row = _one(conn, """SELECT EXTRACT(epoch FROM now() - acted_at)::float8 AS age
                          FROM pgaudit_kit.lockdown_event ORDER BY id DESC LIMIT 1""")
    return None if row is None else float(row["age"])


def read_facts(conn: psycopg.Connection[Any]) -> Facts:
    """Read everything the checks need. Call inside one read-only snapshot on a database with the kit."""
    version = _one(conn, "SELECT current_setting('server_version') AS v, "
                         "current_setting('server_version_num')::int / 10000 AS major")
    assert version is not None
    major = int(version["major"])
    settings = _one(conn, "SELECT current_setting('log_statement') AS log_statement, "
                          "current_setting('log_connections') AS log_connections, "
                          "current_setting('log_disconnections') AS log_disconnections"
                          + (", current_setting('event_triggers') AS event_triggers" if major >= 17 else ""))
    assert settings is not None
    writers, refused_writers = _read_privilege_holders(conn, ".", WRITE_PRIVILEGES)
    key_readers, refused_key_readers = _read_privilege_holders(conn, "^redaction_key$", ("SELECT",))
    return Facts(
        database=db.describe_target(conn),
        server_version=str(version["v"]),
        server_major=major,
        origin=sealing.origin(conn),
        installed_revision=_read_installed_revision(conn),
        newest_revision=installer.head_revision(),
        roles=_read_roles(conn),
        superuser_members=_read_superuser_members(conn),
        kit_members=_read_kit_members(conn),
        invariant_problems=_rows(conn, "SELECT kind, object, problem FROM pgaudit_kit.invariant_problems()"),
        event_triggers=_read_event_triggers(conn),
        event_triggers_setting=settings.pop("event_triggers", None),
        event_triggers_overrides=_read_setting_overrides(conn, "^event_triggers$") if major >= 17 else [],
        event_triggers_grantees=_read_parameter_grantees(conn, "event_triggers", major) if major >= 17 else [],
        settings={name: str(value) for name, value in settings.items()},
        setting_overrides=_read_setting_overrides(conn, "^log_(statement|connections|disconnections)$"),
        table_owners=_read_table_owners(conn),
        kit_table_writers=writers,
        kit_table_refused_writers=refused_writers,
        kit_other_writers=_read_other_writers(conn),
        kit_tables_without_row_security=_read_tables_without_row_security(conn),
        redaction_key_readers=key_readers,
        redaction_key_refused_readers=refused_key_readers,
        history_view_readers=_read_history_view_readers(conn),
        backlog=sealing.backlog(conn),
        newest_checkpoint=_read_newest_checkpoint(conn),
        last_verify=_read_verify_result(conn, clean_only=False),
        last_clean_verify=_read_verify_result(conn, clean_only=True),
        lockdown=lockdown.state(conn),
        lockdown_age=_read_lockdown_age(conn),
        lockdown_unrecorded=_read_lockdown_unrecorded(conn),
    )


# ---------------------------------------------------------------------------------------------------
# Checks: one pure function per item


def _names(values: Iterable[str]) -> str:
    return ", ".join(values) or "(none)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def check_kit_installed(f: Facts) -> Item:
    if f.installed_revision is None:
        return Item("kit_installed", "info", "the installed revision is not readable by this role "
                    "(pgaudit_kit.alembic_version belongs to the installing superuser)",
                    f"Run doctor or pgaudit-kit status as a superuser to compare it with {f.newest_revision}, the "
                    "newest this pgaudit-kit ships.", {"installed": None, "newest": f.newest_revision})
    if f.installed_revision == f.newest_revision:
        return Item("kit_installed", "ok", f"revision {f.installed_revision} is the newest this pgaudit-kit ships",
                    details={"installed": f.installed_revision, "newest": f.newest_revision})
    return Item("kit_installed", "warning",
                f"the kit's schema is at revision {f.installed_revision}, this pgaudit-kit ships {f.newest_revision}",
                "Run pgaudit-kit install (as a superuser) to upgrade; review it first with install --sql.",
                {"installed": f.installed_revision, "newest": f.newest_revision})


def check_invariants(f: Facts) -> Item:
    problems = f.invariant_problems
    if not problems:
        return Item("invariants", "ok", "capture, guard and event triggers, capture functions and the kit's "
                    "privileges are intact (pgaudit_kit.invariant_problems() is empty)")
    return Item("invariants", "critical",
                f"{_count(len(problems), 'problem')}: "
                + "; ".join(p["problem"] for p in problems[:5]) + ("; ..." if len(problems) > 5 else ""),
                "Capture or the kit's guards are weakened now: writes may go unrecorded. Past the DDL guards "
                "only a superuser gets here, or a role that may INSERT into the kit's tables (kit_table_writers: "
                "a forged maintenance window). Find who (server log, pgaudit-kit log), repair with "
                "pgaudit-kit enable TABLE / pgaudit-kit install, then run verify --full and reconcile.",
                {"problems": problems})


def check_event_triggers(f: Facts) -> Item:
    bad = {name: state for name, state in f.event_triggers.items() if state != "A"}
    if not bad:
        return Item("event_triggers", "ok", f"the kit's {len(f.event_triggers)} event triggers are enabled ALWAYS",
                    details={"event_triggers": f.event_triggers})
    described = [f"{name} is {'missing' if state is None else f'not enabled ALWAYS (state {state})'}"
                 for name, state in bad.items()]
    return Item("event_triggers", "critical", "; ".join(described),
                "While an event trigger is off, DDL that disables or drops capture is neither refused nor "
                "recorded. PostgreSQL runs no event trigger for ALTER EVENT TRIGGER, so a superuser did this "
                "unrecorded: find who in the server log. Re-enable with ALTER EVENT TRIGGER name ENABLE ALWAYS "
                "(or pgaudit-kit install), then run verify --full and reconcile.",
                {"event_triggers": f.event_triggers})


_OFF = {"off", "false", "no", "0", "f", "n", ""}


def _is_off(value: str) -> bool:
    return value.strip().lower() in _OFF


def _scope(override: dict[str, Any]) -> str:
    """Where an ALTER DATABASE / ALTER ROLE setting applies, in words."""
    role, database = override.get("role"), override.get("database")
    if role and database:
        return f"role {role} in database {database}"
    return f"role {role}" if role else f"database {database}" if database else "every role and database"


def check_event_trigger_control(f: Facts) -> Item:
    supers = [r.name for r in f.roles if r.superuser]
    details: dict[str, Any] = {"superusers": supers, "setting": f.event_triggers_setting,
                               "overrides": f.event_triggers_overrides, "grantees": f.event_triggers_grantees}
    if f.server_major < 17:
        return Item("event_trigger_control", "ok",
                    f"only superusers ({_names(supers)}) can create, alter, disable or drop event triggers; "
                    f"PostgreSQL {f.server_major} has no event_triggers setting", details=details)
    off = ([f"this session sees event_triggers = {f.event_triggers_setting}"]
           if f.event_triggers_setting is not None and _is_off(f.event_triggers_setting) else [])
    off += [f"set to {o['value']} for {_scope(o)}" for o in f.event_triggers_overrides if _is_off(str(o["value"]))]
    if off:
        return Item("event_trigger_control", "critical", "event triggers are switched off: " + "; ".join(off),
                    "With event_triggers = off no DDL guard runs: capture can be disabled or dropped unrefused and "
                    "unrecorded. Remove the setting (ALTER SYSTEM / ALTER DATABASE / ALTER ROLE ... RESET "
                    "event_triggers; SELECT pg_reload_conf()), then run verify --full and reconcile.", details)
    superusers = set(supers)
    others = [g for g in f.event_triggers_grantees if g["role"] not in superusers]
    if others:
        return Item("event_trigger_control", "warning",
                    "roles other than superusers may switch off event triggers: "
                    + _names(f"{g['role']} ({g['privilege']})" for g in others),
                    "Anyone who may SET event_triggers = off runs DDL with no guard: a table owner among them can "
                    "disable capture unrefused (detected afterwards by verify/doctor). REVOKE SET, ALTER SYSTEM ON "
                    "PARAMETER event_triggers FROM those roles.", details)
    return Item("event_trigger_control", "ok",
                f"only superusers ({_names(supers)}) can create, alter, disable or drop event triggers or set "
                "event_triggers = off; it is on", details=details)


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
        return Item("superusers", "ok", "no superuser can log in" + (f" ({_names(names)} are NOLOGIN)"
                                                                      if supers else ""), details=details)
    if len(login) + len(via) == 1:
        return Item("superusers", "info", f"one role can log in as a superuser: {(login + via)[0]}", advice, details)
    return Item("superusers", "warning", f"{len(login) + len(via)} roles can log in as superusers: "
                f"{_names(login + via)}", advice, details)


def check_bypassrls(f: Facts) -> Item:
    roles = [r.name for r in f.roles if r.bypassrls and not r.superuser and r.name != KIT_OWNER]
    owner = f.role(KIT_OWNER)
    details = {"roles": roles, "kit_owner_bypassrls": bool(owner and owner.bypassrls)}
    if not roles:
        return Item("bypassrls", "ok", "no role but the kit's owner has BYPASSRLS (the owner needs it to record "
                    "every row a TRUNCATE removes)", details=details)
    return Item("bypassrls", "info", f"roles with BYPASSRLS: {_names(roles)}",
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
                    f"roles with CREATEROLE on PostgreSQL {f.server_major}: {_names(roles)}",
                    "Before PostgreSQL 16, CREATEROLE may grant any non-superuser role: these roles can make "
                    "themselves members of pgaudit_kit_owner (and then write the kit's tables: forge events, an "
                    "unlock, a maintenance window), of pgaudit_kit_admin, or of any table's owner, and can ALTER "
                    "ROLE pgaudit_kit_owner LOGIN. ALTER ROLE ... NOCREATEROLE, or upgrade to PostgreSQL 16+.",
                    details)
    return Item("createrole", "info", f"roles with CREATEROLE: {_names(roles)}",
                f"On PostgreSQL {f.server_major} CREATEROLE manages only roles it holds ADMIN OPTION on, so not "
                "the kit's roles (the kit_roles item lists ADMIN OPTION holders). Keep the list short.", details)


def check_kit_roles(f: Facts) -> Item:
    owner = f.role(KIT_OWNER)
    owner_members = f.kit_members.get(KIT_OWNER, [])
    admins, readers = f.kit_members.get(KIT_ADMIN, []), f.kit_members.get(KIT_READER, [])
    details = {"owner_can_login": bool(owner and owner.login), KIT_OWNER: owner_members, KIT_ADMIN: admins,
               KIT_READER: readers}

    def show(members: list[dict[str, Any]]) -> str:
        return _names(m["role"] + (" (ADMIN OPTION)" if m["admin_option"] else "") for m in members)

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
    return _names(one(e) for e in entries)


def check_kit_table_writers(f: Facts) -> Item:
    writers, other = f.kit_table_writers, f.kit_other_writers
    unprotected = f.kit_tables_without_row_security
    details = {"writers": writers, "refused_by_row_security": f.kit_table_refused_writers,
               "sequence_or_version_writers": other, "tables_without_row_security": unprotected}
    if writers:
        off = (f" (row-level security is switched off on {_names(unprotected)})" if unprotected else "")
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
        findings.append(f"roles without a kit role that may read recorded history through pgaudit_kit.change: "
                        f"{_holders(view)}")
        advice.append("Row-level security hides the kit's tables and the redaction key from them, but the view "
                      "pgaudit_kit.change runs as the kit's owner: they read every recorded row image (redacted "
                      "columns as digests), who did it and the statements, and such reads are not recorded as "
                      "reviews. Revoke pg_read_all_data (or the grant) if they should not; give reviewers "
                      "pgaudit-kit grant reader instead.")
    if replication:
        findings.append(f"roles with REPLICATION (can copy the whole cluster, key included): {_names(replication)}")
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
                "owners of enrolled tables: " + _names(o["owner"] for o in owners)
                + (f"; login roles with owner rights: {_names(login)}" if login else ""),
                "While the kit's event triggers run, owners cannot drop, disable or make replica-only the capture "
                "triggers, nor drop the table. They can still change data by DDL, which is recorded as a DDL event "
                "with its statement, not as row images: ALTER COLUMN ... TYPE ... USING, DROP COLUMN, DETACH or "
                "ATTACH PARTITION. Prefer NOLOGIN owner roles used only by migrations.", details)


def check_log_statement(f: Facts) -> Item:
    value = f.settings["log_statement"]
    weaker = [o for o in f.setting_overrides if o["name"] == "log_statement" and o["value"] == "none"]
    details = {"value": value, "overrides": [o for o in f.setting_overrides if o["name"] == "log_statement"]}
    if value == "none" or weaker:
        where = ([f"log_statement = {value}"] if value == "none" else []) + [
            f"set to none for {_scope(o)}" for o in weaker]
        return Item("log_statement", "warning", "; ".join(where),
                    "Set log_statement = 'ddl' (or 'mod'/'all') so the server log is a second trail of DDL, "
                    "including ALTER EVENT TRIGGER, which the kit cannot refuse or record. A superuser can still "
                    "turn it off for its own session.", details)
    return Item("log_statement", "ok", f"log_statement = {value}", details=details)


def check_log_connections(f: Facts) -> Item:
    value = f.settings["log_connections"]
    if _is_off(value):
        return Item("log_connections", "warning", "log_connections is off",
                    "Set log_connections = on (postgresql.conf or ALTER SYSTEM, then reload) so the server log says "
                    "who connected from where, for the sessions the audit record names.", {"value": value})
    return Item("log_connections", "ok", f"log_connections = {value}", details={"value": value})


def check_log_disconnections(f: Facts) -> Item:
    value = f.settings["log_disconnections"]
    if _is_off(value):
        return Item("log_disconnections", "info", "log_disconnections is off",
                    "Optional: log_disconnections = on records each session's end and duration.", {"value": value})
    return Item("log_disconnections", "ok", f"log_disconnections = {value}", details={"value": value})


def check_lockdown(f: Facts) -> Item:
    state = f.lockdown
    details = {**state.as_dict(), "unrecorded": f.lockdown_unrecorded}
    if f.lockdown_unrecorded:
        forged = [f"#{r['id']} {'lockdown' if r['locked'] else 'unlock'} at {r['acted_at']} ({r['reason']!r})"
                  for r in f.lockdown_unrecorded]
        return Item("lockdown", "critical",
                    f"{'locked down' if state.locked else 'not locked down'}, but the lockdown state was changed "
                    "without the kit's function (no control event recorded it): " + "; ".join(forged),
                    "Someone who may INSERT into pgaudit_kit.lockdown_event (see kit_table_writers, superusers) "
                    "locked or unlocked behind the kit's back. Treat it as tampering: run verify --full and "
                    "reconcile, and lock down again with pgaudit-kit lockdown if needed.", details)
    if state.locked:
        age = f" ({format_age(f.lockdown_age)} ago)" if f.lockdown_age is not None else ""
        return Item("lockdown", "warning",
                    f"audited writes are locked down since {state.acted_at}{age} by {state.acted_by}: {state.reason}",
                    "Investigate (verify --full, reconcile, pgaudit-kit log), then lift it: pgaudit-kit unlock "
                    "--reason TEXT.", details)
    if state.acted_at is None:
        return Item("lockdown", "ok", "not locked down (never was)", details=details)
    return Item("lockdown", "ok", f"not locked down (last unlocked {state.acted_at} by {state.acted_by})",
                details=details)


def check_backlog(f: Facts, t: Thresholds) -> Item:
    b = f.backlog
    details = {"unsealed_events": b.count, "oldest_unsealed_age_seconds": b.age_seconds, "tree_size": b.tree_size,
               "max_backlog_age_seconds": t.max_backlog_age}
    if not b.count or b.age_seconds is None:
        return Item("backlog", "ok", f"every event is sealed (log size {b.tree_size})", details=details)
    summary = f"{_count(b.count, 'event')} not yet sealed, the oldest {format_age(b.age_seconds)} old"
    if b.age_seconds > t.max_backlog_age:
        return Item("backlog", "warning", f"{summary} (more than {format_age(t.max_backlog_age)})",
                    "Unsealed events are not yet protected by the hash chain. A long-running transaction holds "
                    "sealing back (see pg_stat_activity); otherwise run pgaudit-kit seal from cron.", details)
    return Item("backlog", "ok", summary, details=details)


def check_last_checkpoint(f: Facts, t: Thresholds) -> Item:
    cp = f.newest_checkpoint
    details = {"checkpoint": None if cp is None else {k: cp[k] for k in ("id", "tree_size", "created_at",
                                                                        "created_by", "age_seconds")},
               "tree_size": f.backlog.tree_size, "max_checkpoint_age_seconds": t.max_checkpoint_age}
    advice = ("Schedule pgaudit-kit checkpoint --key KEY --anchor-dir DIR (e.g. every 10 minutes): only history "
              "covered by a checkpoint kept outside the database is protected against a superuser who rewrites "
              "it and recomputes the hashes.")
    if cp is None:
        if f.backlog.tree_size == 0 and not f.backlog.count:
            return Item("last_checkpoint", "info", "no checkpoint yet, and no history to checkpoint", advice, details)
        return Item("last_checkpoint", "warning", "no checkpoint has ever been made", advice, details)
    summary = (f"newest checkpoint #{cp['id']} (log size {cp['tree_size']} of {f.backlog.tree_size}) is "
               f"{format_age(cp['age_seconds'])} old")
    if cp["age_seconds"] > t.max_checkpoint_age:
        return Item("last_checkpoint", "warning", f"{summary} (more than {format_age(t.max_checkpoint_age)})",
                    advice, details)
    return Item("last_checkpoint", "ok", summary, details=details)


def check_last_verify(f: Facts, t: Thresholds) -> Item:
    last, clean = f.last_verify, f.last_clean_verify
    details = {"last": last, "last_clean": clean, "max_verify_age_seconds": t.max_verify_age}
    advice = ("Schedule pgaudit-kit verify --anchor-dir DIR --public-key PUB --state FILE (and --full daily) from a "
              "machine other than the database server. The outcome is self-reported by the verifying role (any "
              "reader can record one): trust the verifier's own exit code and state file, not this entry.")
    if last is None:
        return Item("last_verify", "warning", "verify has never recorded an outcome", advice, details)

    def who(entry: dict[str, Any]) -> str:
        role = entry["session_role"] or "?"
        if entry["acting_role"] and entry["acting_role"] != entry["session_role"]:
            role += f" as {entry['acting_role']}"
        return f"recorded {format_age(entry['age_seconds'])} ago by {role}"

    if not last["clean"]:
        counts = (last["outcome"] or {}).get("finding_counts") or {}
        since = f"; last clean verify {who(clean)}" if clean else "; no clean verify on record"
        return Item("last_verify", "critical",
                    f"the newest verify found problems ({_names(f'{k}: {v}' for k, v in sorted(counts.items()))}), "
                    f"{who(last)}{since}",
                    "Run pgaudit-kit verify --full (with --anchor-dir, --public-key) to see each finding; consider "
                    "pgaudit-kit lockdown while investigating. " + advice, details)
    assert clean is not None
    summary = f"last clean verify ({(clean['outcome'] or {}).get('mode', '?')}) {who(clean)}"
    if clean["age_seconds"] > t.max_verify_age:
        return Item("last_verify", "warning", f"{summary} (more than {format_age(t.max_verify_age)})", advice, details)
    return Item("last_verify", "ok", summary, "Self-reported by the verifying role.", details)


# ---------------------------------------------------------------------------------------------------
# Checks of files on this machine: the anchor directory and the signing key


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def check_anchor_dir(anchor_dir: Path | None, origin: str, newest_checkpoint: dict[str, Any] | None,
                     tree_size: int) -> Item:
    """The anchor directory exists, only its owner may write it, and it holds this database's newest
    checkpoint (never one beyond the log). Mode bits are judged, not access(): the result is the same
    whoever runs doctor (root can write anything)."""
    if anchor_dir is None:
        return Item("anchor_dir", "warning", "no anchor directory given: cannot check that checkpoints leave the "
                    "database", "Pass the directory checkpoint --anchor-dir writes to (--anchor-dir DIR or "
                    "PGAUDIT_KIT_ANCHOR_DIR). Without anchors outside the database, a restore of an older backup or a "
                    "rewrite with recomputed hashes is only caught by a verifier's trusted state.")
    details: dict[str, Any] = {"path": str(anchor_dir), "origin": origin}
    if not anchor_dir.exists():
        return Item("anchor_dir", "warning", f"anchor directory {anchor_dir} does not exist",
                    "Mount or create it (checkpoint --anchor-dir creates the per-database folder).", details)
    if not anchor_dir.is_dir():
        return Item("anchor_dir", "warning", f"{anchor_dir} is not a directory", "Point --anchor-dir at a directory.",
                    details)
    folder = anchors.origin_dir(anchor_dir, origin)
    details["folder"] = str(folder)
    loose = [f"{p} (mode {_mode(p):04o})" for p in (anchor_dir, folder) if p.exists() and _mode(p) & 0o022]
    try:
        notes = anchors.read(anchor_dir, origin)
    except (OSError, UsageError) as exc:
        return Item("anchor_dir", "warning", f"cannot read anchor directory {anchor_dir}: {exc}",
                    "Make it readable by the account doctor and verify run as.", details)
    loose += [f"{n.path} (mode {_mode(n.path):04o})" for n in notes if _mode(n.path) & 0o222]
    sizes = sorted(_anchored_size(n) for n in notes)
    details.update(anchored=len(notes), newest_anchored_size=sizes[-1] if sizes else None, loose_permissions=loose)
    if sizes and sizes[-1] > tree_size:
        return Item("anchor_dir", "critical",
                    f"an anchored checkpoint covers {sizes[-1]} events but the log has {tree_size}: history was "
                    "truncated or an older backup restored",
                    "Run pgaudit-kit verify --full --anchor-dir DIR --public-key PUB: it names the missing history "
                    "(checkpoint_beyond_log, checkpoint_root). Consider pgaudit-kit lockdown.", details)
    problems: list[str] = []
    advice: list[str] = []
    if loose:
        problems.append("writable by group or others: " + ", ".join(loose))
        advice.append("Anyone who may write the anchor store may delete anchors: chmod go-w the directory (files "
                      "are created 0444), better use WORM storage or several anchor locations.")
    if not notes:
        problems.append(f"no checkpoint of this database ({origin}) is anchored here")
        advice.append("Run pgaudit-kit checkpoint --key KEY --anchor-dir DIR on a schedule.")
    elif newest_checkpoint is not None and newest_checkpoint["tree_size"] > sizes[-1]:
        problems.append(f"the newest checkpoint (log size {newest_checkpoint['tree_size']}) is not anchored here "
                        f"(newest anchored: {sizes[-1]})")
        advice.append("Checkpoints are made without --anchor-dir, or into another directory: anchor every one.")
    if problems:
        return Item("anchor_dir", "warning", "; ".join(problems), " ".join(advice), details)
    return Item("anchor_dir", "ok", f"{_count(len(notes), 'checkpoint')} of this database anchored in {anchor_dir}, "
                f"the newest covering {sizes[-1]} events; writable only by its owner", details=details)


def _anchored_size(note: anchors.AnchoredNote) -> int:
    try:
        return int(note.path.name.split("-", 1)[0])
    except ValueError:
        return -1


def check_key_file(key_path: Path | None, newest_checkpoint: dict[str, Any] | None) -> Item:
    """The private key is readable, not accessible to group or others (signing.read_private_key's rule),
    and signed the newest checkpoint."""
    if key_path is None:
        return Item("key_file", "info", "no signing key given: not checked",
                    "Run doctor with --key KEY (or PGAUDIT_KIT_KEY) where checkpoint runs; the key belongs on that "
                    "machine, not on the database server.")
    details: dict[str, Any] = {"path": str(key_path)}
    try:
        key = signing.read_private_key(key_path)
    except UsageError as exc:
        try:
            mode = _mode(key_path)
        except OSError:
            return Item("key_file", "warning", str(exc), "Point --key at the private key file keygen wrote.", details)
        details["mode"] = f"{mode:04o}"
        if mode & 0o077:
            return Item("key_file", "critical", f"private key {key_path} is accessible to group or others (mode "
                        f"{mode:04o})", f"chmod 600 {key_path}, and treat the key as exposed: whoever read it can sign "
                        "checkpoints of a rewritten log. Consider a new key (keygen) for future checkpoints.", details)
        return Item("key_file", "warning", str(exc), "Point --key at the private key file keygen wrote.", details)
    details.update(mode=f"{_mode(key_path):04o}", key_name=key.name)
    if newest_checkpoint is not None:
        try:
            signing.open_note(str(newest_checkpoint["note"]), key.verifier())
        except signing.SignatureError:
            return Item("key_file", "warning",
                        f"the newest checkpoint (#{newest_checkpoint['id']}) is not signed by {key.name} ({key_path})",
                        "Checkpoints are signed with another key: check which key checkpoint uses and which public "
                        "key verifiers trust.", details)
    return Item("key_file", "ok", f"private key {key.name} is mode {details['mode']}"
                + (" and signed the newest checkpoint" if newest_checkpoint is not None else ""), details=details)


# ---------------------------------------------------------------------------------------------------
# The report


FACT_CHECKS: tuple[Callable[[Facts], Item], ...] = (
    check_kit_installed, check_invariants, check_event_triggers, check_event_trigger_control, check_superusers,
    check_createrole, check_kit_roles, check_kit_table_writers, check_redaction_key_readers, check_table_owners,
    check_bypassrls, check_log_statement, check_log_connections, check_log_disconnections, check_lockdown,
)
TIMED_CHECKS: tuple[Callable[[Facts, Thresholds], Item], ...] = (
    check_backlog, check_last_checkpoint, check_last_verify,
)
ITEM_IDS = ("kit_installed", "invariants", "event_triggers", "event_trigger_control", "superusers", "createrole",
            "kit_roles", "kit_table_writers", "redaction_key_readers", "table_owners", "bypassrls", "log_statement",
            "log_connections", "log_disconnections", "lockdown", "backlog", "last_checkpoint", "last_verify",
            "anchor_dir", "key_file")


@dataclass
class Report:
    database: str
    server_version: str
    origin: str
    thresholds: Thresholds
    items: list[Item]

    @property
    def summary(self) -> dict[str, int]:
        return {s: sum(1 for i in self.items if i.severity == s) for s in SEVERITIES}

    @property
    def exit_code(self) -> int:
        """1 when any item is a warning or critical, else 0."""
        return 1 if any(i.severity in FAILING for i in self.items) else 0

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.database, "server_version": self.server_version, "origin": self.origin,
                "thresholds": self.thresholds.as_dict(), "summary": self.summary, "exit_code": self.exit_code,
                "items": [i.as_dict() for i in self.items]}


def judge(facts: Facts, thresholds: Thresholds, anchor_dir: Path | None, key_path: Path | None,
          accept: Iterable[str] = ()) -> list[Item]:
    """Every item, in report order. An item named in *accept* that is a warning becomes info (accepted);
    a critical item is never downgraded."""
    items = [check(facts) for check in FACT_CHECKS] + [check(facts, thresholds) for check in TIMED_CHECKS]
    items.append(check_anchor_dir(anchor_dir, facts.origin, facts.newest_checkpoint, facts.backlog.tree_size))
    items.append(check_key_file(key_path, facts.newest_checkpoint))
    accepted = set(accept)
    return [replace(i, severity="info", accepted=True) if i.id in accepted and i.severity == "warning" else i
            for i in items]


def run(dsn: str | None, *, anchor_dir: Path | None = None, key_path: Path | None = None,
        thresholds: Thresholds | None = None, accept: Sequence[str] = ()) -> Report:
    """Record the review, read the facts in one snapshot, judge them. Raises KitError for environment problems
    (cannot connect, kit not installed, no kit role, standby)."""
    thresholds = thresholds or Thresholds()
    unknown = sorted(set(accept) - set(ITEM_IDS))
    if unknown:
        raise UsageError(f"unknown doctor item {', '.join(unknown)} (items: {', '.join(ITEM_IDS)})")
    with db.connect(dsn) as conn, db.translated_errors():
        reviews.record_review(conn, "doctor", {
            "anchor_dir": str(anchor_dir) if anchor_dir else None, "key": str(key_path) if key_path else None,
            "accept": sorted(accept), **thresholds.as_dict()})
        db.begin_consistent_read(conn)
        conn.execute("SET LOCAL search_path = pg_catalog")  # the queries must mean the built-ins
        facts = read_facts(conn)
        conn.rollback()
    items = judge(facts, thresholds, anchor_dir, key_path, accept)
    return Report(facts.database, facts.server_version, facts.origin, thresholds, items)
