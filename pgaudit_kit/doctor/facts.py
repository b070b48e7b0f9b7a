"""What doctor knows about the database: everything the checks judge, read in one snapshot into plain
data (:class:`Facts`), so that the checks themselves never touch the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..control import lockdown
from ..core.names import ADMIN_ROLE, OWNER_ROLE, READER_ROLE
from ..log import partitions, retirement, sealing
from ..pg import db
from ..schema import shipped

# The kit's event triggers, as pgaudit_kit.invariant_problems() lists them; any other pgaudit_kit_* event
# trigger found in the database is judged too.
KIT_EVENT_TRIGGERS = ("pgaudit_kit_check_ddl", "pgaudit_kit_ddl_command_end", "pgaudit_kit_guard_drop",
                      "pgaudit_kit_note_objects", "pgaudit_kit_refuse_guard_drop", "pgaudit_kit_sql_drop")
# The admin and reader roles are spelled where `pgaudit-kit grant` spells them, so both name the same roles.
KIT_OWNER, KIT_ADMIN, KIT_READER = OWNER_ROLE, ADMIN_ROLE, READER_ROLE
WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")


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
    # kit functions that are not what the installed revision shipped (pgaudit_kit.schema.shipped): one line each
    function_drift: list[str]
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
    event_partitions: list[partitions.Partition]
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
    """Roles (as for _read_privilege_holders) without a kit role that may read one of the kit's views
    (pgaudit_kit.change, recorded_event, staged_event), e.g. through pg_read_all_data. A view runs as its owner,
    the kit's owner, whom row-level security does not restrict: it shows them every recorded event that the
    kit's tables hide from them."""
    rows = _rows(conn, """
        WITH holders AS (
          SELECT h.oid, h.rolname::text AS holder, 'SELECT ON ' || v.oid::regclass::text AS privilege, true AS usable
            FROM pg_catalog.pg_class v CROSS JOIN pg_catalog.pg_roles h
           WHERE v.relnamespace = 'pgaudit_kit'::regnamespace AND v.relkind = 'v'
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


def _age(column: str) -> str:
    """Seconds from *column* to now, without an interval (which an extreme timestamp a superuser stored would
    overflow), an infinite one bounded to a finite float (JSON has no infinity)."""
    return f"LEAST(GREATEST((EXTRACT(epoch FROM now()) - EXTRACT(epoch FROM {column}))::float8, -1e308), 1e308)"


def read_newest_checkpoint(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    row = _one(conn, """
        SELECT id, tree_size, note, created_by,
               to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
               {age} AS age_seconds
          FROM pgaudit_kit.checkpoint ORDER BY id DESC LIMIT 1""".replace("{age}", _age("created_at")))
    if row is not None:
        row["note"] = sealing.stored_note(row["note"])  # bytes since revision 0012
    return row


def _read_verify_result(conn: psycopg.Connection[Any], clean_only: bool) -> dict[str, Any] | None:
    """The newest `verify-result` review event (or the newest clean one), with who recorded it."""
    return _one(conn, """
        SELECT e.id AS event_id,
               to_char(e.statement_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS recorded_at,
               {age} AS age_seconds,
               COALESCE((e.row_data->'filter'->>'clean')::boolean, false) AS clean,
               e.row_data->'filter' AS outcome, t.session_role, t.acting_role
          FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
         WHERE e.op = 'R' AND e.row_data->>'command' = 'verify-result'
           AND (NOT %s OR (e.row_data->'filter'->>'clean')::boolean)
         ORDER BY e.id DESC LIMIT 1""".replace("{age}", _age("e.statement_ts")), (clean_only,))


def _read_lockdown_unrecorded(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Rows of pgaudit_kit.lockdown_event that pgaudit_kit.set_lockdown() did not write: it records, in the
    same transaction, a control event with the same action and reason, whose transaction started when
    the row was written (acted_at defaults to now(), the transaction's start). Rows older than retired history's
    last block had their events retired with it (the archive holds them)."""
    boundary = retirement.newest(conn)
    return _rows(conn, """
        SELECT l.id, l.locked, l.reason, l.acted_by,
               to_char(l.acted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS acted_at
          FROM pgaudit_kit.lockdown_event l
         WHERE NOT EXISTS (
                 SELECT FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t ON t.xid = e.xid
                  WHERE e.op = 'K' AND e.relid IS NULL AND t.xact_start = l.acted_at
                    AND e.row_data->>'action' = CASE WHEN l.locked THEN 'lockdown' ELSE 'unlock' END
                    AND e.row_data->>'reason' = l.reason)
           AND l.acted_at >= COALESCE((SELECT b.sealed_at FROM pgaudit_kit.block b WHERE b.block_no = %s),
                                      '-infinity')
         ORDER BY l.id""", (None if boundary is None else boundary.block_no,))


def _read_installed_revision(conn: psycopg.Connection[Any]) -> str | None:
    """The installed revision, or None when this role may not read it (the version table belongs to the
    installing superuser; readers and admins have no privilege on it)."""
    from ..schema import installer  # here: it loads Alembic, which every other command can do without

    try:
        with conn.transaction():
            return installer.current_revision(conn)
    except psycopg.errors.InsufficientPrivilege:
        return None


def _read_function_drift(conn: psycopg.Connection[Any], installed_revision: str | None) -> list[str]:
    """Each kit function that differs from what the installed revision (else the newest) shipped: its source,
    security, pinned settings, owner or grantees; and functions missing or unknown."""
    revision = installed_revision if installed_revision and installed_revision <= shipped.newest_revision() \
        else shipped.newest_revision()
    expected = shipped.load(revision)
    found = {name: record for name, (record, _) in shipped.functions_in(conn).items()}
    drift = [f"{name} is not a function revision {revision} ships" for name in sorted(set(found) - set(expected))]
    drift += [f"{name} is missing" for name in sorted(set(expected) - set(found))]
    for name in sorted(set(found) & set(expected)):
        differing = [field for field in ("source_sha256", "security_definer", "config", "owner", "grantees")
                     if getattr(found[name], field) != getattr(expected[name], field)]
        if differing:
            described = ", ".join("source" if f == "source_sha256" else f.replace("_", " ") for f in differing)
            drift.append(f"{name} differs from what revision {revision} shipped ({described})")
    return drift


def _read_lockdown_age(conn: psycopg.Connection[Any]) -> float | None:
    row = _one(conn, "SELECT {age} AS age FROM pgaudit_kit.lockdown_event ORDER BY id DESC LIMIT 1".replace(
        "{age}", _age("acted_at")))
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
    installed_revision = _read_installed_revision(conn)
    key_readers, refused_key_readers = _read_privilege_holders(conn, "^redaction_key$", ("SELECT",))
    return Facts(
        database=db.describe_target(conn),
        server_version=str(version["v"]),
        server_major=major,
        origin=sealing.origin(conn),
        installed_revision=installed_revision,
        newest_revision=shipped.newest_revision(),
        roles=_read_roles(conn),
        superuser_members=_read_superuser_members(conn),
        kit_members=_read_kit_members(conn),
        invariant_problems=_rows(conn, "SELECT kind, object, problem FROM pgaudit_kit.invariant_problems()"),
        function_drift=_read_function_drift(conn, installed_revision),
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
        event_partitions=partitions.listed(conn),
        newest_checkpoint=read_newest_checkpoint(conn),
        last_verify=_read_verify_result(conn, clean_only=False),
        last_clean_verify=_read_verify_result(conn, clean_only=True),
        lockdown=lockdown.state(conn),
        lockdown_age=_read_lockdown_age(conn),
        lockdown_unrecorded=_read_lockdown_unrecorded(conn),
    )
