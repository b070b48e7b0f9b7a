"""Fail-closed: when the audit write cannot happen, the business write fails, names pgaudit-kit and the
cause, and nothing of it commits. Each case breaks the kit for real, as a superuser would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support.helpers import enable, events, guards_off

Conn = psycopg.Connection[Any]


@pytest.fixture
def audited(kit_conn: Conn) -> Iterator[Conn]:
    kit_conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
    enable(kit_conn, "accounts")
    kit_conn.execute("INSERT INTO accounts VALUES (1, 100)")
    # Breaking the kit is DDL the kit refuses: each test breaks it inside guards_off, as a superuser
    # attacking it would (guards disabled, then put back to cover the tracks), and writes afterwards.
    yield kit_conn


def _event_count(conn: Conn) -> Any:
    """Rows of the event table and of the chunk table (each under its own name or the one a test renamed it to)."""
    counts = []
    for table in ("event", "event_gone", "event_chunk", "event_chunk_gone"):
        if conn.execute("SELECT to_regclass(%s)", (f"pgaudit_kit.{table}",)).fetchone() != (None,):
            counts.append(conn.execute(f"SELECT count(*) FROM pgaudit_kit.{table}").fetchone())
    return counts


def _assert_write_refused(conn: Conn, statement: str, *needles: str) -> None:
    before = conn.execute("SELECT array_agg(balance ORDER BY id) FROM accounts").fetchone()
    count = _event_count(conn)
    with pytest.raises(psycopg.Error) as caught:
        with conn.transaction():
            conn.execute(statement)
    error = caught.value
    text = f"{error.diag.message_primary}\n{error.diag.context or ''}"
    assert "pgaudit_kit" in text, text
    for needle in needles:
        assert needle in text, text
    assert conn.execute("SELECT array_agg(balance ORDER BY id) FROM accounts").fetchone() == before
    assert _event_count(conn) == count


@pytest.mark.parametrize(("statement", "table"), [
    ("UPDATE accounts SET balance = 0", "event"),
    ("INSERT INTO accounts VALUES (2, 5)", "event"),
    ("DELETE FROM accounts", "event"),
    # a statement of 32 rows or more, and TRUNCATE, are recorded as chunks
    ("INSERT INTO accounts SELECT g, 0 FROM generate_series(100, 199) g", "event_chunk"),
    ("TRUNCATE accounts", "event_chunk"),
])
def test_revoked_insert_privilege_fails_every_write(audited: Conn, statement: str, table: str) -> None:
    with guards_off(audited):
        audited.execute(f"REVOKE INSERT ON pgaudit_kit.{table} FROM pgaudit_kit_owner")
    _assert_write_refused(audited, statement, f"permission denied for table {table}")


def test_chunk_table_missing(audited: Conn) -> None:
    with guards_off(audited):
        audited.execute("ALTER TABLE pgaudit_kit.event_chunk RENAME TO event_chunk_gone")
    _assert_write_refused(audited, "INSERT INTO accounts SELECT g, 0 FROM generate_series(100, 199) g",
                          'relation "pgaudit_kit.event_chunk" does not exist')


def test_event_table_missing(audited: Conn) -> None:
    with guards_off(audited):
        audited.execute("ALTER TABLE pgaudit_kit.event RENAME TO event_gone")
    _assert_write_refused(audited, "UPDATE accounts SET balance = 0", 'relation "pgaudit_kit.event" does not exist')


def test_event_table_altered(audited: Conn) -> None:
    with guards_off(audited):
        audited.execute("ALTER TABLE pgaudit_kit.event DROP COLUMN old_values CASCADE")
    _assert_write_refused(audited, "UPDATE accounts SET balance = 0", "old_values")


def test_constraint_violation_in_audit_table(audited: Conn) -> None:
    with guards_off(audited):
        audited.execute("ALTER TABLE pgaudit_kit.event ADD CONSTRAINT no_more CHECK (op <> 'U') NOT VALID")
    _assert_write_refused(audited, "UPDATE accounts SET balance = 0", "no_more")


def test_transaction_table_unwritable(audited: Conn) -> None:
    with guards_off(audited):
        audited.execute("REVOKE INSERT ON pgaudit_kit.transaction FROM pgaudit_kit_owner")
    _assert_write_refused(audited, "UPDATE accounts SET balance = 0", "permission denied for table transaction")


@pytest.mark.parametrize(("function", "statement"), [
    # what TRUNCATE capture (and the kit's own recording) calls before its first event
    ("record_transaction()", "TRUNCATE accounts"),
    # what the first statement of a transaction calls while writing its who/where row (with a context set)
    ("parse_json_or_null(p_text text)",
     "SELECT set_config('pgaudit_kit.context', '{\"request\": 1}', true); UPDATE accounts SET balance = 0"),
])
def test_broken_kit_function(audited: Conn, function: str, statement: str) -> None:
    name, signature = function.split("(")
    returns = audited.execute("SELECT pg_get_function_result(p.oid) FROM pg_proc p WHERE p.proname = %s"
                              " AND p.pronamespace = 'pgaudit_kit'::regnamespace", (name,)).fetchone()
    assert returns is not None
    with guards_off(audited):
        audited.execute(f"""CREATE OR REPLACE FUNCTION pgaudit_kit.{name}({signature} RETURNS {returns[0]}
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$ BEGIN PERFORM 1 / 0; END $$""")
    _assert_write_refused(audited, statement, "division by zero", name)


def test_capture_function_dropped(audited: Conn) -> None:
    oid = audited.execute("SELECT 'accounts'::regclass::oid").fetchone()
    assert oid is not None
    # Dropping the function needs CASCADE (the triggers depend on it): the triggers go with it, and
    # that gap is what `status` (and later `verify`) reports.
    with guards_off(audited):
        audited.execute(f"DROP FUNCTION pgaudit_kit.capture_{oid[0]}() CASCADE")
    from pgaudit_kit.pg.catalog import capture_problems

    found = [p.message for p in capture_problems(audited)]
    assert any("capture function of public.accounts is missing" in p for p in found), found
    assert any("pgaudit_kit_capture_update on public.accounts is missing" in p for p in found), found


def test_storage_error_fails_the_write(audited: Conn) -> None:
    # A full disk cannot be staged portably; an audit row too large for the b-tree index is a real storage
    # error raised by the server while writing the audit record.
    with guards_off(audited):
        audited.execute("CREATE INDEX event_row_data_idx ON pgaudit_kit.event ((row_data::text))")
    audited.execute("ALTER TABLE accounts ADD COLUMN note text")
    audited.execute("SELECT pgaudit_kit.refresh_enrolment('accounts'::regclass)")
    _assert_write_refused(audited, "UPDATE accounts SET note = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)",
                          "index row")


def test_capture_needs_no_privileges_from_the_writer(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    kit_conn.execute("DROP ROLE IF EXISTS app; CREATE ROLE app; GRANT INSERT ON t TO app")
    try:
        with kit_conn.transaction():
            kit_conn.execute("SET LOCAL ROLE app")
            kit_conn.execute("INSERT INTO t VALUES (1)")
            # the application role can neither read nor write the kit's tables
            with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
                kit_conn.execute("SELECT * FROM pgaudit_kit.event")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
                kit_conn.execute("INSERT INTO pgaudit_kit.event (xid, statement_ts, op) VALUES (pg_current_xact_id(), now(), 'S')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
                kit_conn.execute("SELECT pgaudit_kit.record_transaction()")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
                kit_conn.execute("SELECT * FROM pgaudit_kit.redaction_key")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
                kit_conn.execute("SELECT pgaudit_kit.disable_table('t', 'because')")
        assert [(e["operation"], e["acting_role"]) for e in events(kit_conn)] == [("INSERT", "app")]
        # reviewers see digests but never the redaction key either
        with kit_conn.transaction():
            kit_conn.execute("SET LOCAL ROLE pgaudit_kit_reader")
            assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.change").fetchone() is not None
            with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
                kit_conn.execute("SELECT * FROM pgaudit_kit.redaction_key")
    finally:
        kit_conn.execute("DROP OWNED BY app; DROP ROLE app")


def test_capture_triggers_are_enabled_always_and_security_definer(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    rows = kit_conn.execute("""
        SELECT t.tgname::text, t.tgenabled::text, p.prosecdef, p.proconfig::text[], pg_get_userbyid(p.proowner)::text
          FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgrelid = 't'::regclass ORDER BY 1""").fetchall()
    assert [r[0] for r in rows] == ["pgaudit_kit_capture_delete", "pgaudit_kit_capture_insert",
                                    "pgaudit_kit_capture_truncate", "pgaudit_kit_capture_update"]
    for _name, enabled, secdef, config, owner in rows:
        assert enabled == "A" and secdef and owner == "pgaudit_kit_owner"
        assert 'search_path=""' in config


FORGE_MARK = "SELECT set_config('pgaudit_kit.recorded_xact', pg_current_xact_id()::text, true)"
WHO = "SELECT acting_role FROM pgaudit_kit.transaction WHERE xid = %s::xid8"


def test_a_forged_recorded_mark_skips_neither_the_who_where_row_nor_the_lockdown(kit_conn: Conn, kit_db: str) -> None:
    # Capture skips writing the who/where row (and the lockdown check) when the transaction-local setting
    # pgaudit_kit.recorded_xact names the transaction. Any role may set it; only the kit can make currval()
    # of the kit's sequence agree with it.
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    kit_conn.execute("DROP ROLE IF EXISTS app; CREATE ROLE app; GRANT INSERT ON t TO app")
    try:
        with psycopg.connect(kit_db, autocommit=True) as app:
            app.execute("SET ROLE app")
            # a session that never wrote an audited row: the forged mark is refused, the write with it
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="recorded_xact"), app.transaction():
                app.execute(FORGE_MARK)
                app.execute("INSERT INTO t VALUES (1)")
            app.execute("INSERT INTO t VALUES (2)")
            # a session that did: the mark names an older transaction, so this one is recorded as usual
            with app.transaction():
                app.execute(FORGE_MARK)
                xid = app.execute("SELECT pg_current_xact_id()::text").fetchone()
                app.execute("INSERT INTO t VALUES (3)")
            assert xid is not None and kit_conn.execute(WHO, xid).fetchall() == [("app",)]
            # and a lockdown still refuses it
            assert kit_conn.execute("SELECT pgaudit_kit.lockdown('INC-9: forged marks')").fetchone() == (True,)
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="locked down"), app.transaction():
                app.execute(FORGE_MARK)
                app.execute("INSERT INTO t VALUES (4)")
            # nor can the role set the kit's half of the mark
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("SELECT setval('pgaudit_kit.recorded_xact', pg_current_xact_id()::text::bigint)")
        assert kit_conn.execute("SELECT pgaudit_kit.unlock('INC-9: done')").fetchone() == (True,)
        assert kit_conn.execute("SELECT array_agg(id ORDER BY id) FROM t").fetchone() == ([2, 3],)
        assert [e["operation"] for e in events(kit_conn)] == ["INSERT", "INSERT"]
    finally:
        kit_conn.execute("DROP OWNED BY app; DROP ROLE app")
