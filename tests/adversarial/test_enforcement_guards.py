"""Enforcement, part 1: guards on the kit's tables and privileges. History is append-only for every role,
the kit's own owner and the superuser included (guard triggers ENABLE ALWAYS); enrolment settings change
only through the kit's functions; application roles can neither read nor write the kit's tables; and
session_replication_role = replica skips neither capture nor the guards. Each refusal is run for real
and followed by a check that nothing changed and capture still works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.support.cluster import Cluster
from tests.support.enforcement import (
    CONFIG_TABLES,
    EVENT_PARTITIONS,
    HISTORY_TABLES,
    RETIRED_TABLES,
    Roles,
    Who,
    assert_capture_works,
    assert_refused,
    assert_unchanged,
    connect,
    connect_app,
    invariant_problems,
    kit_triggers,
    module_roles,
    set_up_application,
    snapshot,
)
from tests.support.helpers import cli, events, guards_off

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def roles(cluster: Cluster) -> Iterator[Roles]:
    with module_roles(cluster) as r:
        yield r


@pytest.fixture
def app_db(kit_db: str, kit_conn: Conn, roles: Roles) -> str:
    """*kit_db* with the audited application schema (see enforcement_support.set_up_application)."""
    set_up_application(kit_conn, roles)
    return kit_db


def writable_column(conn: Conn, table: str) -> str:
    """A column of pgaudit_kit.<table> that an UPDATE may name (not an identity or generated column)."""
    row = conn.execute(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "AND attidentity = '' AND attgenerated = '' ORDER BY attnum LIMIT 1", (f"pgaudit_kit.{table}",)).fetchone()
    assert row is not None
    return str(row[0])


def history_change(conn: Conn, op: str, table: str) -> sql.Composed:
    target = sql.Identifier("pgaudit_kit", table)
    if op == "UPDATE":
        column = sql.Identifier(writable_column(conn, table))
        return sql.SQL("UPDATE {} SET {} = {}").format(target, column, column)
    if op == "DELETE":
        return sql.SQL("DELETE FROM {}").format(target)
    return sql.SQL("TRUNCATE {}").format(target)


def test_every_kit_table_is_guarded_always(kit_conn: Conn) -> None:
    """No table of the kit is left unguarded, bar Alembic's version table and the commit check's scratch."""
    guarded = kit_conn.execute("""
        SELECT c.relname::text, t.tgenabled::text, p.proname::text
          FROM pg_class c LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = 'pgaudit_kit_guard'
          LEFT JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'p')
           AND c.relname NOT IN ('alembic_version', 'pending_check')
         ORDER BY 1""").fetchall()
    expected = sorted([(t, "A", "refuse_history_change") for t in (*HISTORY_TABLES, *EVENT_PARTITIONS, "event_chunk")]
                      + [(t, "A", "guard_config_change") for t in CONFIG_TABLES])
    assert guarded == expected
    retire_only = kit_conn.execute("""
        SELECT t.tgrelid::regclass::text, t.tgenabled::text, p.proname::text, t.tgoldtable::text
          FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgname = 'pgaudit_kit_retire_only'
         ORDER BY 1""").fetchall()
    assert retire_only == sorted((f"pgaudit_kit.{t}", "A", "refuse_unretired_removal", "pgaudit_kit_gone")
                                 for t in (*RETIRED_TABLES, *EVENT_PARTITIONS))


@pytest.mark.parametrize("who", ["kit_owner", "superuser"])
@pytest.mark.parametrize("op", ["UPDATE", "DELETE", "TRUNCATE"])
def test_unsealed_chunks_cannot_be_changed_or_removed(kit_conn: Conn, app_db: str, roles: Roles, who: Who,
                                                      op: str) -> None:
    """A statement of many rows is recorded as chunks (pgaudit_kit.event_chunk) that sealing later turns into
    events. Until then they are the only record of those changes: UPDATE and TRUNCATE are refused as on every
    history table, and DELETE of a chunk whose events are not written yet is refused after the fact (sealing
    deletes the chunks it has expanded, in the same transaction)."""
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.t SELECT g, 'bulk' FROM generate_series(2000, 2099) g")
    chunks = "SELECT xid::text, id, n_events, images FROM pgaudit_kit.event_chunk ORDER BY xid, id"
    recorded = kit_conn.execute(chunks).fetchall()
    assert len(recorded) == 1 and recorded[0][2] == 100
    before = snapshot(kit_conn)
    with connect(app_db, roles, who) as conn:
        assert_refused(conn, history_change(conn, op, "event_chunk"), "pgaudit_kit.event_chunk")
    assert_unchanged(kit_conn, before)
    assert kit_conn.execute(chunks).fetchall() == recorded
    while kit_conn.execute("SELECT pgaudit_kit.seal()").fetchone() != (0,):
        pass
    assert kit_conn.execute(chunks).fetchall() == []
    assert len(events(kit_conn, "table_name = 't' AND new_row->>'note' = 'bulk'")) == 100
    assert_capture_works(kit_conn, roles)


def test_a_rewritten_chunk_stops_sealing_and_is_reported(kit_conn: Conn, app_db: str, roles: Roles) -> None:
    """A superuser past the guards rewrites an unsealed chunk so that its arrays no longer fit each other (a row
    of values dropped). Sealing refuses to expand it, and so seals nothing recorded after it (the log stays in
    order); review leaves its events out instead of failing; status, doctor and verify name the chunk."""
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.t SELECT g, 'bulk' FROM generate_series(2000, 2099) g")
        conn.execute("INSERT INTO app.t VALUES (3000, 'after')")
    with guards_off(kit_conn):
        kit_conn.execute("UPDATE pgaudit_kit.event_chunk SET images = images[1:99]")
    problems = [p for p in invariant_problems(kit_conn) if p[1] == "pgaudit_kit.event_chunk"]
    assert len(problems) == 1 and problems[0][0] == "coverage_sealing" and "values of another shape" in problems[0][2]
    sealed = cli("seal", dsn=app_db)
    assert sealed.exit_code == 1 and "is malformed (values of another shape)" in sealed.stderr, sealed.output
    assert len(sealed.stderr.strip().splitlines()) <= 2, sealed.stderr  # the error and its hint, no traceback
    assert events(kit_conn, "table_name = 't' AND new_row->>'note' = 'after'") != []  # recorded ...
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event e JOIN pgaudit_kit.block b "
                            "ON e.id = ANY (b.event_ids) WHERE e.row_data->>'note' = 'after'").fetchone() == (0,)
    log = cli("log", "--table", "app.t", "--format", "json", dsn=app_db)  # ... but not sealed
    assert log.exit_code == 0, log.output
    assert "bulk" not in log.stdout and "after" in log.stdout
    verify = cli("verify", "--format", "json", dsn=app_db)
    assert verify.exit_code == 1
    assert any(f["kind"] == "coverage_sealing" and "malformed" in f["message"]
               for f in json.loads(verify.stdout)["findings"]), verify.stdout
    status = cli("status", dsn=app_db)
    assert status.exit_code != 4 and "malformed" in status.output, status.output


@pytest.mark.parametrize("who", ["kit_owner", "superuser"])
@pytest.mark.parametrize("op", ["UPDATE", "DELETE", "TRUNCATE"])
@pytest.mark.parametrize("table", HISTORY_TABLES + ("event_p0", "event_overflow") + CONFIG_TABLES)
def test_kit_tables_refuse_update_delete_truncate(kit_conn: Conn, app_db: str, roles: Roles, who: Who, op: str,
                                                  table: str) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, who) as conn:
        assert_refused(conn, history_change(conn, op, table), op, f"pgaudit_kit.{table}")
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


@pytest.mark.parametrize("who", ["kit_owner", "superuser"])
@pytest.mark.parametrize("statement", [
    "UPDATE pgaudit_kit.enrolled_table SET truncate_policy = 'refuse' WHERE table_name = 't'",
    "UPDATE pgaudit_kit.enrolled_table SET excluded_columns = '{note}' WHERE table_name = 't'",
    "DELETE FROM pgaudit_kit.enrolled_table WHERE table_name = 't'",
    "INSERT INTO pgaudit_kit.enrolled_table (relid, schema_name, table_name, capture_mode, shape_signature) "
    "SELECT 'app.unaudited'::regclass, 'app', 'unaudited', 'statement', 'forged'",
    "DELETE FROM pgaudit_kit.auto_enrol_schema",
], ids=["update-truncate-policy", "update-excluded", "delete", "insert-forged", "delete-auto-enrol"])
def test_enrolment_cannot_be_edited_directly(kit_conn: Conn, app_db: str, roles: Roles, who: Who,
                                             statement: str) -> None:
    kit_conn.execute("CREATE TABLE app.unaudited (id int)")  # what the forged enrolment names
    before = snapshot(kit_conn)
    with connect(app_db, roles, who) as conn:
        assert_refused(conn, statement, "pgaudit_kit.", "pgaudit-kit enable / disable")
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


@pytest.mark.parametrize("who", ["kit_owner", "superuser"])
def test_enrolment_edited_behind_a_spoofed_call_stack_is_detected_by_verify(kit_conn: Conn, app_db: str,
                                                                         roles: Roles, who: Who) -> None:
    """The guard recognises the kit's functions by their frames in PG_CONTEXT, which includes statement
    text: a role that may write the table at all (the owner, i.e. a superuser) can stage a look-alike
    frame in a comment. PostgreSQL cannot tell, so this is detected instead: verify compares enrolment
    with the recorded enable events."""
    spoof = ("DO $$ BEGIN EXECUTE E'UPDATE pgaudit_kit.enrolled_table SET excluded_columns = ''{note}'' "
             "WHERE relid = ''app.t''::regclass /*\\nPL/pgSQL function pgaudit_kit.enable_table(x) */'; END $$")
    with connect(app_db, roles, who) as conn:
        conn.execute(spoof)
    kit_conn.execute("ALTER TABLE app.t ADD COLUMN spoof_probe int")  # regenerates capture from the forgery
    result = cli("verify", "--format", "json", dsn=app_db)
    assert result.exit_code == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [(f["kind"], f["object"]) for f in report["findings"]] == [("coverage_enrolment", "app.t")]
    kit_conn.execute("ALTER TABLE app.t DROP COLUMN spoof_probe")
    kit_conn.execute("SELECT pgaudit_kit.enable_table('app.t', '{}', '{}', 'capture', false, "
                     "p_reason => 'repair the spoofed enrolment')")  # the spoof excluded note: back in clear


# ---------------------------------------------------------------------------------------------------
# privileges: application roles neither read nor write the kit's tables; admins read but never write

APP_DENIED = [
    "SELECT * FROM pgaudit_kit.event",
    "SELECT * FROM pgaudit_kit.transaction",
    "SELECT * FROM pgaudit_kit.change",
    "SELECT * FROM pgaudit_kit.enrolled_table",
    "SELECT * FROM pgaudit_kit.redaction_key",
    "INSERT INTO pgaudit_kit.event (xid, statement_ts, op) VALUES (pg_current_xact_id(), now(), 'I')",
    "INSERT INTO pgaudit_kit.transaction (xid, xact_start, session_role, acting_role, backend_pid) "
    "VALUES (pg_current_xact_id(), now(), 'x', 'x', 1)",
    "UPDATE pgaudit_kit.event SET statement = NULL",
    "DELETE FROM pgaudit_kit.transaction",
    "TRUNCATE pgaudit_kit.event",
    "SELECT pgaudit_kit.record_transaction()",
    "SELECT pgaudit_kit.record_control_event('disable', NULL, 'app', 't', '{}')",
    "SELECT pgaudit_kit.enable_table('app.t'::regclass)",
]


@pytest.mark.parametrize("statement", APP_DENIED)
def test_application_role_can_neither_read_nor_write_kit_tables(kit_conn: Conn, app_db: str, roles: Roles,
                                                                statement: str) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, "app") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        conn.execute(statement)
    assert "permission denied" in str(caught.value.diag.message_primary)
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


@pytest.mark.parametrize("statement", [
    "INSERT INTO pgaudit_kit.event (xid, statement_ts, op) VALUES (pg_current_xact_id(), now(), 'I')",
    "UPDATE pgaudit_kit.event SET statement = NULL",
    "DELETE FROM pgaudit_kit.event",
    "TRUNCATE pgaudit_kit.transaction",
    "INSERT INTO pgaudit_kit.enrolled_table (relid, schema_name, table_name, capture_mode, shape_signature) "
    "VALUES (1, 'a', 'b', 'row', 'x')",
])
def test_admin_reads_history_but_cannot_write_it(kit_conn: Conn, app_db: str, roles: Roles, statement: str) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, "dba") as conn:
        row = conn.execute("SELECT count(*) FROM pgaudit_kit.change").fetchone()
        assert row is not None and row[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            conn.execute(statement)
    assert "permission denied" in str(caught.value.diag.message_primary)
    assert_unchanged(kit_conn, before)


@pytest.mark.parametrize("statement", [
    "GRANT pgaudit_kit_owner TO CURRENT_USER",
    "ALTER ROLE pgaudit_kit_owner LOGIN",
    "SET ROLE pgaudit_kit_owner",
])
def test_createrole_dba_cannot_become_the_kit_owner(cluster: Cluster, app_db: str, roles: Roles,
                                                    statement: str) -> None:
    if cluster.major < 16 and statement != "SET ROLE pgaudit_kit_owner":
        # Before PostgreSQL 16 CREATEROLE may grant membership in (and alter) any non-superuser role: the
        # takeover cannot be refused, so it must be detected.
        with connect(app_db, roles, "dba") as conn:
            conn.execute(statement)
        try:
            with psycopg.connect(app_db) as conn:
                assert ("coverage_privilege", "pgaudit_kit_owner") in [
                    (kind, obj) for kind, obj, _ in invariant_problems(conn)]
        finally:
            with cluster.admin() as admin:
                admin.execute(sql.SQL("REVOKE pgaudit_kit_owner FROM {}").format(sql.Identifier(roles.dba)))
                admin.execute("ALTER ROLE pgaudit_kit_owner NOLOGIN")
        return
    with connect(app_db, roles, "dba") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    with psycopg.connect(app_db) as conn:
        assert conn.execute("SELECT pg_has_role(%s, 'pgaudit_kit_owner', 'MEMBER'), rolcanlogin FROM pg_roles "
                            "WHERE rolname = 'pgaudit_kit_owner'", (roles.dba,)).fetchone() == (False, False)


# ---------------------------------------------------------------------------------------------------
# session_replication_role = replica skips ordinary triggers; the kit's are all ENABLE ALWAYS


def test_replica_mode_skips_neither_capture_nor_guards(kit_conn: Conn, app_db: str, roles: Roles) -> None:
    with connect(app_db, roles, "superuser") as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("INSERT INTO app.t VALUES (2, 'replicated')")
        conn.execute("UPDATE app.pt SET note = 'replicated' WHERE id = 1")
        conn.execute("DELETE FROM app.t WHERE id = 1")
        recorded = [(e["operation"], e["table_name"]) for e in events(kit_conn)]
        assert recorded[-3:] == [("INSERT", "t"), ("UPDATE", "pt"), ("DELETE", "t")]
        before = snapshot(kit_conn)
        assert_refused(conn, "DELETE FROM pgaudit_kit.event", "DELETE", "pgaudit_kit.event")
        assert_refused(conn, "UPDATE pgaudit_kit.enrolled_table SET truncate_policy = 'refuse'",
                       "pgaudit_kit.enrolled_table")
        assert_refused(conn, "ALTER TABLE app.t DISABLE TRIGGER USER", "app.t", "pgaudit-kit disable app.t")
        assert_refused(conn, "DROP TRIGGER pgaudit_kit_capture_insert ON app.t", "app.t", "pgaudit-kit disable")
        assert_refused(conn, "ALTER TABLE pgaudit_kit.event DISABLE TRIGGER pgaudit_kit_guard", "pgaudit_kit.event")
        assert_unchanged(kit_conn, before)
    assert kit_triggers(kit_conn, "app.t") == [
        ("pgaudit_kit_capture_delete", "A"), ("pgaudit_kit_capture_insert", "A"),
        ("pgaudit_kit_capture_truncate", "A"), ("pgaudit_kit_capture_update", "A")]
    assert_capture_works(kit_conn, roles)


def test_replica_mode_granted_to_the_table_owner_does_not_skip_capture(cluster: Cluster, kit_conn: Conn, app_db: str,
                                                                       roles: Roles) -> None:
    if cluster.major < 15:
        # no GRANT SET ON PARAMETER before 15: a non-superuser cannot switch to replica mode at all
        with connect(app_db, roles, "owner") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")
        return
    kit_conn.execute(sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}").format(
        sql.Identifier(roles.owner)))
    try:
        with connect(app_db, roles, "owner") as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("INSERT INTO app.t VALUES (3, 'owner, replica')")
            conn.execute("TRUNCATE app.pt")
        recorded = [(e["operation"], e["table_name"], e["session_role"]) for e in events(kit_conn)]
        assert recorded[-2:] == [("INSERT", "t", roles.owner), ("TRUNCATE", "pt", roles.owner)]
    finally:
        kit_conn.execute(sql.SQL("REVOKE SET ON PARAMETER session_replication_role FROM {}").format(
            sql.Identifier(roles.owner)))


def test_application_writes_are_captured_without_kit_privileges(kit_conn: Conn, app_db: str, roles: Roles) -> None:
    with connect_app(kit_conn, roles) as conn:
        conn.execute("UPDATE app.t SET note = 'changed' WHERE id = 1")
    (update,) = events(kit_conn, "operation = 'UPDATE'")
    assert (update["table_name"], update["old_row"]["note"], update["new_row"]["note"]) == ("t", "first", "changed")
    assert (update["session_role"], update["acting_role"]) == (roles.app, roles.app)
