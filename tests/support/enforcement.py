"""Shared pieces of the enforcement tests (test_enforcement_guards.py, test_enforcement_ddl.py): the roles
an attack is run as, an audited application schema, and the before/after comparison that proves a
refused command changed nothing.

Roles are cluster-wide, so each test module creates its own, with unique names, and drops them at its
end; every object they own lives in a per-test database that is dropped first.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
import pytest
from psycopg import sql

from tests.support.cluster import Cluster
from tests.support.helpers import enable, events, with_params

Conn = psycopg.Connection[Any]

# Who runs a statement: the application (DML on its tables only), the owner of the audited tables, a DBA
# without superuser (CREATEROLE, pgaudit_kit_admin, member of the table owner), the superuser, or the
# superuser acting as the kit's own NOLOGIN owner (SET ROLE pgaudit_kit_owner).
Who = Literal["app", "owner", "dba", "superuser", "kit_owner"]

KIT_SCHEMAS = ("pgaudit_kit", "pgaudit_kit_guard")
HISTORY_TABLES = ("install", "transaction", "event", "block", "checkpoint", "maintenance", "lockdown_event",
                  "redaction_key", "retention", "retirement")
# History tables that retirement empties: DELETE is checked after the fact (pgaudit_kit_retire_only)
RETIRED_TABLES = ("transaction", "event", "block", "checkpoint")
CONFIG_TABLES = ("enrolled_table", "auto_enrol_schema")
# The partitions of pgaudit_kit.event a fresh install creates (the first, two ahead, the DEFAULT one): each guards
# itself, since a statement naming a partition fires no statement trigger of its parent
EVENT_PARTITIONS = ("event_p0", "event_p1", "event_p2", "event_overflow")
KIT_EVENT_TRIGGERS = ("pgaudit_kit_check_ddl", "pgaudit_kit_ddl_command_end", "pgaudit_kit_guard_drop",
                      "pgaudit_kit_refuse_guard_drop", "pgaudit_kit_sql_drop")


@dataclass(frozen=True)
class Roles:
    app: str
    owner: str
    dba: str
    password: str

    def dsn(self, kit_db: str, who: Who) -> str:
        if who in ("superuser", "kit_owner"):
            return kit_db
        return with_params(kit_db, user=getattr(self, who), password=self.password)


@contextmanager
def module_roles(cluster: Cluster) -> Iterator[Roles]:
    """Create the login roles for one test module; drop them afterwards."""
    suffix = uuid.uuid4().hex[:10]
    roles = Roles(app=f"enf_app_{suffix}", owner=f"enf_owner_{suffix}", dba=f"enf_dba_{suffix}",
                  password=secrets.token_urlsafe(16))
    with cluster.admin() as conn:
        for name, extra in ((roles.app, ""), (roles.owner, ""), (roles.dba, " CREATEROLE IN ROLE pgaudit_kit_admin")):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}" + extra).format(
                sql.Identifier(name), sql.Literal(roles.password)))
        # a DBA administers the application's tables through membership in their owner
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(roles.owner), sql.Identifier(roles.dba)))
    try:
        yield roles
    finally:
        with cluster.admin() as conn:
            for name in (roles.dba, roles.app, roles.owner):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def connect(kit_db: str, roles: Roles, who: Who) -> Conn:
    """An autocommit connection to *kit_db* as *who*."""
    conn = psycopg.connect(roles.dsn(kit_db, who), autocommit=True)
    if who == "kit_owner":
        conn.execute("SET ROLE pgaudit_kit_owner")
    return conn


def set_up_application(kit_conn: Conn, roles: Roles) -> None:
    """Schema app (owned by the table owner) with two enrolled tables: app.t (statement capture) and the
    partitioned app.pt with partitions app.pt_1 and app.pt_2 (row capture). The application role has
    ordinary DML privileges on them, and has written one row to each."""
    owner, app = sql.Identifier(roles.owner), sql.Identifier(roles.app)
    kit_conn.execute(sql.SQL("CREATE SCHEMA app AUTHORIZATION {}").format(owner))
    kit_conn.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(app))
    with kit_conn.transaction():
        kit_conn.execute(sql.SQL("SET LOCAL ROLE {}").format(owner))
        kit_conn.execute("CREATE TABLE app.t (id int PRIMARY KEY, note text)")
        kit_conn.execute("CREATE TABLE app.pt (id int, k int NOT NULL, note text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k)")
        kit_conn.execute("CREATE TABLE app.pt_1 PARTITION OF app.pt FOR VALUES FROM (0) TO (100)")
        kit_conn.execute("CREATE TABLE app.pt_2 PARTITION OF app.pt FOR VALUES FROM (100) TO (200)")
        kit_conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON app.t, app.pt TO {}").format(app))
    enable(kit_conn, "app.t")
    enable(kit_conn, "app.pt")
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.t VALUES (1, 'first')")
        conn.execute("INSERT INTO app.pt VALUES (1, 5, 'first')")
    assert invariant_problems(kit_conn) == []


def connect_app(kit_conn: Conn, roles: Roles) -> Conn:
    dsn = with_params(kit_conn.info.dsn, user=roles.app, password=roles.password)
    return psycopg.connect(dsn, autocommit=True)


def invariant_problems(conn: Conn) -> list[tuple[str, str, str]]:
    return [(str(k), str(o), str(p)) for k, o, p in conn.execute(
        "SELECT kind, object, problem FROM pgaudit_kit.invariant_problems()").fetchall()]


# The state a refused command must leave exactly as it was. Catalog names are read through pg_namespace
# (not regnamespace casts), so a renamed or dropped kit schema shows up as a difference.
SNAPSHOT_QUERIES: dict[str, str] = {
    "namespaces": """
        SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text, n.nspacl::text FROM pg_namespace n
         WHERE n.nspname IN ('pgaudit_kit', 'pgaudit_kit_guard', 'app') ORDER BY 1""",
    "relations": """
        SELECT n.nspname::text, c.relname::text, c.relkind::text, pg_get_userbyid(c.relowner)::text, c.relacl::text
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('pgaudit_kit', 'pgaudit_kit_guard', 'app') AND c.relkind IN ('r', 'p', 'v', 'S')
         ORDER BY 1, 2""",
    "columns": """
        SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('pgaudit_kit', 'app') AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0
           AND NOT a.attisdropped ORDER BY 1, 2, a.attnum""",
    "functions": """
        SELECT n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
               pg_get_userbyid(p.proowner)::text, p.proacl::text
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('pgaudit_kit', 'pgaudit_kit_guard') OR p.oid IN (SELECT evtfoid FROM pg_event_trigger)
         ORDER BY 1, 2, 3""",
    "triggers": """
        SELECT n.nspname::text, c.relname::text, t.tgname::text, t.tgenabled::text, p.proname::text
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal ORDER BY 1, 2, 3""",
    "rules": "SELECT schemaname::text, tablename::text, rulename::text FROM pg_rules ORDER BY 1, 2, 3",
    "event_triggers": """
        SELECT e.evtname::text, e.evtevent::text, e.evtenabled::text, p.proname::text
          FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid ORDER BY 1""",
    "enrolled": "SELECT relid::bigint, schema_name, table_name, capture_mode FROM pgaudit_kit.enrolled_table ORDER BY 1",
    "events": "SELECT id, xid::text, op::text, row_data::text FROM pgaudit_kit.event ORDER BY id",
    "transactions": "SELECT xid::text, session_role FROM pgaudit_kit.transaction ORDER BY xid::text",
    "maintenance": "SELECT xid::text FROM pgaudit_kit.maintenance ORDER BY 1",
    "rows": """
        SELECT 't', id, note FROM app.t UNION ALL SELECT 'pt', id, note FROM app.pt ORDER BY 1, 2""",
}


def snapshot(kit_conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a refused command must leave untouched, read as the superuser."""
    return {name: list(kit_conn.execute(query).fetchall()) for name, query in SNAPSHOT_QUERIES.items()}


def error_text(error: psycopg.Error) -> str:
    diag = error.diag
    return "\n".join(part for part in (diag.message_primary, diag.message_detail, diag.message_hint) if part)


def assert_refused(conn: Conn, statement: str | sql.Composed, *needles: str) -> psycopg.Error:
    """*statement* fails with insufficient_privilege raised by the kit (the message says 'pgaudit-kit')
    and the message, detail or hint contains every needle (the object, the legitimate path)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        conn.execute(statement)
    text = error_text(caught.value)
    assert "pgaudit-kit" in text, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"
    return caught.value


def assert_unchanged(kit_conn: Conn, before: dict[str, list[tuple[Any, ...]]]) -> None:
    after = snapshot(kit_conn)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, changed


def assert_capture_works(kit_conn: Conn, roles: Roles) -> None:
    """The application's next writes to both audited tables are recorded, and the kit is intact."""
    assert invariant_problems(kit_conn) == []
    row = kit_conn.execute("SELECT coalesce(max(id), 0) FROM pgaudit_kit.event").fetchone()
    assert row is not None
    last = int(row[0])
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.t VALUES (1001, 'after')")
        conn.execute("UPDATE app.pt SET note = 'after' WHERE id = 1")
    recorded = [(e["operation"], e["schema_name"], e["table_name"], e["partition_name"], e["acting_role"])
                for e in events(kit_conn, f"id > {last} AND operation IN ('INSERT', 'UPDATE')")]
    assert recorded == [("INSERT", "app", "t", None, roles.app), ("UPDATE", "app", "pt", "app.pt_1", roles.app)], recorded


def kit_triggers(kit_conn: Conn, table: str) -> list[tuple[str, str]]:
    """(trigger name, tgenabled) of the kit's triggers on *table*."""
    return [(str(n), str(e)) for n, e in kit_conn.execute(
        "SELECT tgname::text, tgenabled::text FROM pg_trigger WHERE tgrelid = %s::regclass "
        "AND tgname::text LIKE 'pgaudit\\_kit\\_%%' ORDER BY 1", (table,)).fetchall()]
