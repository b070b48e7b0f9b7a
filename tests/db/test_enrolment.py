"""Enrolment through the CLI and the SQL functions: validation, idempotence, options, auto-enrolment,
DDL recording and who may do it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from tests.support.cluster import Cluster
from tests.support.helpers import cli, events, with_params

Conn = psycopg.Connection[Any]


def _enrolled(conn: Conn) -> list[str]:
    rows = conn.execute("SELECT format('%I.%I', schema_name, table_name) FROM pgaudit_kit.enrolled_table ORDER BY 1")
    return [r[0] for r in rows.fetchall()]


def _kit_triggers(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname::text LIKE 'pgaudit\\_kit\\_%' "
                       "AND tgrelid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgaudit_kit'::regnamespace)"
                       ).fetchone()
    return int(row[0]) if row else -1


def test_enable_resolves_names_like_sql(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute('CREATE SCHEMA app; CREATE TABLE app."Orders" (id int PRIMARY KEY); '
                     'CREATE TABLE app."größe ""x""" (id int PRIMARY KEY); CREATE TABLE app.plain (id int PRIMARY KEY)')
    result = cli("enable", 'app."Orders"', 'app."größe ""x"""', "plain",
                 dsn=with_params(kit_db, options="-csearch_path=app"))
    assert result.exit_code == 0, result.stderr
    assert _enrolled(kit_conn) == ['app."Orders"', 'app."größe ""x"""', "app.plain"]
    assert 'app."Orders": enrolled' in result.stdout
    # status names them so that they can be pasted back
    listed = [line for line in cli("status", dsn=kit_db).stdout.splitlines() if line.startswith("app.")]
    assert [line.startswith(name + " ") for line, name in zip(listed, ['app."Orders"', 'app."größe ""x"""',
                                                                       "app.plain"], strict=True)] == [True] * 3
    again = cli("disable", 'app."Orders"', "--reason", "pasted from status", dsn=kit_db)
    assert again.exit_code == 0, again.stderr


def test_unknown_name_changes_nothing_and_exits_2(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE good (id int PRIMARY KEY); CREATE TABLE orders (id int PRIMARY KEY)")
    result = cli("enable", "good", '"Orders"', dsn=kit_db)  # "Orders" (quoted) is not orders
    assert result.exit_code == 2
    assert "'\"Orders\"' does not exist" in result.stderr
    assert _enrolled(kit_conn) == [] and _kit_triggers(kit_conn) == 0


@pytest.mark.parametrize("setup, name, needle", [
    ("CREATE VIEW v AS SELECT 1 AS x", "v", "not a table"),
    ("CREATE SEQUENCE s", "s", "not a table"),
    ("CREATE TABLE p (id int) PARTITION BY RANGE (id); CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10)",
     "p1", "is a partition; enrol its partitioned table public.p instead"),
    ("CREATE TEMP TABLE tmp (id int)", "pg_temp.tmp", "temporary"),
    ("", "pgaudit_kit.event", "system or kit table"),
    ("", "a.b.c.d", "invalid table name"),
])
def test_unsupported_relations_exit_2(kit_conn: Conn, kit_db: str, setup: str, name: str, needle: str) -> None:
    if setup:
        kit_conn.execute(setup)
    if name == "pg_temp.tmp":  # a temporary table only exists in its own session: use the SQL function
        with pytest.raises(psycopg.errors.FeatureNotSupported, match=needle):
            kit_conn.execute("SELECT pgaudit_kit.enable_table('pg_temp.tmp')")
        return
    result = cli("enable", name, dsn=kit_db)
    assert result.exit_code == 2, result.stderr
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _enrolled(kit_conn) == []


def test_bad_column_options_exit_2_and_change_nothing(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE a (id int PRIMARY KEY, secret text); CREATE TABLE b (id int PRIMARY KEY)")
    result = cli("enable", "a", "b", "--redact-columns", "secret", dsn=kit_db)  # b has no column secret
    assert result.exit_code == 2
    assert "table public.b has no column secret" in result.stderr
    assert _enrolled(kit_conn) == []
    result = cli("enable", "a", "--redact-columns", "id", dsn=kit_db)
    assert result.exit_code == 2 and "primary key" in result.stderr
    result = cli("enable", "a", "--redact-columns", "secret", "--exclude-columns", "secret", dsn=kit_db)
    assert result.exit_code == 2 and "both excluded and redacted" in result.stderr
    result = cli("enable", "a", "--truncate", "sometimes", dsn=kit_db)
    assert result.exit_code == 2


def test_enable_is_idempotent_and_option_changes_are_recorded(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
    assert cli("enable", "t", dsn=kit_db).exit_code == 0
    again = cli("enable", "t", dsn=kit_db)
    assert again.exit_code == 0 and "already enrolled with these options" in again.stdout
    assert cli("enable", "t", "--exclude-columns", "note", "--truncate", "refuse", dsn=kit_db).exit_code == 0
    control = [e["details"] for e in events(kit_conn, "operation = 'CONTROL'")]
    assert [c["action"] for c in control] == ["enable", "options"]
    assert control[1]["options"]["excluded_columns"] == ["note"] and control[1]["options"]["truncate"] == "refuse"
    kit_conn.execute("INSERT INTO t VALUES (1, 'hidden')")
    assert events(kit_conn)[0]["new_row"] == {"id": "1"}


CAPTURE_TRIGGERS = ("SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger "
                    "WHERE tgrelid = %s::regclass AND tgname::text LIKE 'pgaudit\\_kit\\_capture\\_%%'")
WRITES = ["INSERT INTO {t} VALUES (1, 'a', 1.5), (2, 'b', NULL)", "UPDATE {t} SET note = 'c' WHERE id = 1",
          "UPDATE {t} SET amount = amount WHERE id = 2", "DELETE FROM {t} WHERE id = 2", "TRUNCATE {t}"]


def _recorded(conn: Conn, table: str) -> list[tuple[Any, ...]]:
    return [(e["operation"], e["pk"], e["old_row"], e["new_row"], e["changed_columns"])
            for e in events(conn, f"table_name = '{table}' AND operation IN ('INSERT','UPDATE','DELETE','TRUNCATE')")]


def test_capture_mode_row_records_what_statement_mode_records(kit_conn: Conn, kit_db: str) -> None:
    for table in ("by_row", "by_statement"):
        kit_conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text, amount numeric)")
    assert cli("enable", "by_row", "--capture-mode", "row", dsn=kit_db).exit_code == 0
    assert cli("enable", "by_statement", dsn=kit_db).exit_code == 0
    assert kit_conn.execute(CAPTURE_TRIGGERS, ("by_row",)).fetchone() == (
        ["pgaudit_kit_capture_row", "pgaudit_kit_capture_truncate"],)
    for table in ("by_row", "by_statement"):
        for statement in WRITES:
            kit_conn.execute(statement.format(t=table))
    assert _recorded(kit_conn, "by_row") == _recorded(kit_conn, "by_statement")
    assert len(_recorded(kit_conn, "by_row")) == 6
    # the mode is kept by an enable without it, changed (and recorded) by one with it
    assert "already enrolled" in cli("enable", "by_row", dsn=kit_db).stdout
    assert cli("enable", "by_row", "--capture-mode", "statement", dsn=kit_db).exit_code == 0
    modes = [e["details"]["options"]["capture_mode"]
             for e in events(kit_conn, "operation = 'CONTROL' AND table_name = 'by_row'")]
    assert modes == ["row", "statement"]
    assert kit_conn.execute(CAPTURE_TRIGGERS, ("by_row",)).fetchone() == (
        ["pgaudit_kit_capture_delete", "pgaudit_kit_capture_insert", "pgaudit_kit_capture_truncate",
         "pgaudit_kit_capture_update"],)
    verified = cli("verify", "--full", "--format", "json", dsn=kit_db)
    assert verified.exit_code == 0 and json.loads(verified.stdout)["findings"] == []


def test_statement_capture_is_refused_for_partitioned_tables(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE m (id int, k int) PARTITION BY RANGE (k); "
                     "CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (10)")
    result = cli("enable", "m", "--capture-mode", "statement", dsn=kit_db)
    assert result.exit_code == 2 and "captured by row triggers" in result.stderr
    assert _enrolled(kit_conn) == []
    assert cli("enable", "--schema", "public", "--capture-mode", "row", dsn=kit_db).exit_code == 2
    with pytest.raises(psycopg.errors.InvalidParameterValue), kit_conn.transaction():
        kit_conn.execute("SELECT pgaudit_kit.enable_table('m', p_capture_mode => 'rows')")


def test_status_lists_enrolled_tables_with_options(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int, a int, b text, PRIMARY KEY (id, a))")
    cli("enable", "t", "--redact-columns", "b", "--capture-statement", dsn=kit_db)
    report = json.loads(cli("status", "--format", "json", dsn=kit_db).stdout)
    (table,) = report["enrolled_tables"]
    assert {k: table[k] for k in ("schema_name", "table_name", "capture_mode", "pk_columns", "redacted_columns",
                                  "excluded_columns", "truncate_policy", "capture_statement")} == {
        "schema_name": "public", "table_name": "t", "capture_mode": "statement", "pk_columns": ["id", "a"],
        "redacted_columns": ["b"], "excluded_columns": [], "truncate_policy": "capture", "capture_statement": True}
    assert "public.t" in cli("status", dsn=kit_db).stdout


def test_disable_needs_a_reason_and_is_recorded(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cli("enable", "t", dsn=kit_db)
    result = cli("disable", "t", dsn=kit_db)
    assert result.exit_code == 2 and "--reason is required" in result.stderr
    assert _enrolled(kit_conn) == ["public.t"]
    result = cli("disable", "t", "--reason", "retired, CHG-42", dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    assert _enrolled(kit_conn) == [] and _kit_triggers(kit_conn) == 0
    (last,) = events(kit_conn, "operation = 'CONTROL' AND details->>'action' = 'disable'")
    assert last["details"]["reason"] == "retired, CHG-42" and last["session_role"] == "postgres"
    kit_conn.execute("INSERT INTO t VALUES (1)")
    assert events(kit_conn) == []
    assert cli("disable", "t", "--reason", "again", dsn=kit_db).exit_code == 2  # not enrolled


def test_auto_enrol_schema(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE SCHEMA billing; CREATE TABLE billing.old (id int PRIMARY KEY)")
    result = cli("enable", "--schema", "billing", "--redact-columns", "card", dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    assert _enrolled(kit_conn) == []  # without --all, existing tables wait
    kit_conn.execute("CREATE TABLE billing.invoice (id int PRIMARY KEY, card text)")
    assert _enrolled(kit_conn) == ["billing.invoice"]
    kit_conn.execute("INSERT INTO billing.invoice VALUES (1, '4111')")
    (e,) = events(kit_conn)
    assert e["new_row"]["card"].startswith("hmac-sha256:")
    # a CREATE that rolls back leaves no enrolment behind
    with pytest.raises(psycopg.errors.DivisionByZero), kit_conn.transaction():
        kit_conn.execute("CREATE TABLE billing.doomed (id int)")
        kit_conn.execute("SELECT 1/0")
    assert _enrolled(kit_conn) == ["billing.invoice"]
    # CREATE TABLE AS is enrolled too
    kit_conn.execute("CREATE TABLE billing.copy AS SELECT * FROM billing.invoice")
    assert "billing.copy" in _enrolled(kit_conn)
    assert cli("enable", "--schema", "billing", "--all", dsn=kit_db).exit_code == 0
    assert _enrolled(kit_conn) == ["billing.copy", "billing.invoice", "billing.old"]
    assert cli("disable", "--schema", "billing", dsn=kit_db).exit_code == 2
    assert cli("disable", "--schema", "billing", "--reason", "done", dsn=kit_db).exit_code == 0
    kit_conn.execute("CREATE TABLE billing.later (id int)")
    assert "billing.later" not in _enrolled(kit_conn)
    assert cli("enable", "--schema", "nope", dsn=kit_db).exit_code == 2


def test_enable_usage_errors(kit_db: str) -> None:
    assert cli("enable", dsn=kit_db).exit_code == 2
    assert cli("enable", "t", "--schema", "s", dsn=kit_db).exit_code == 2
    assert cli("enable", "t", "--all", dsn=kit_db).exit_code == 2
    assert cli("disable", dsn=kit_db).exit_code == 2


def test_ddl_in_audited_schemas_is_recorded(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE SCHEMA other; CREATE TABLE t (id int PRIMARY KEY); SELECT pgaudit_kit.enable_table('t')")
    kit_conn.execute("DROP ROLE IF EXISTS viewer; CREATE ROLE viewer")
    try:
        start = kit_conn.execute("SELECT max(id) FROM pgaudit_kit.event").fetchone()
        kit_conn.execute("ALTER TABLE t ADD COLUMN note text")
        kit_conn.execute("COMMENT ON TABLE t IS 'audited'")
        kit_conn.execute("GRANT SELECT ON t TO viewer")
        kit_conn.execute("CREATE INDEX t_note ON t (note)")
        kit_conn.execute("DROP INDEX t_note")
        kit_conn.execute("CREATE TABLE other.free (id int)")  # not in an audited schema
        ddl = events(kit_conn, f"operation = 'DDL' AND id > {start[0] if start else 0}")
        seen = [(e["details"]["command_tag"], e["details"]["object_identity"], e["statement"]) for e in ddl
                if e["schema_name"] != "pgaudit_kit"]
        assert ("ALTER TABLE", "public.t", "ALTER TABLE t ADD COLUMN note text") in seen
        assert ("COMMENT", "public.t", "COMMENT ON TABLE t IS 'audited'") in seen
        assert ("GRANT", None, "GRANT SELECT ON t TO viewer") in seen
        assert ("CREATE INDEX", "public.t_note", "CREATE INDEX t_note ON t (note)") in seen
        assert ("DROP INDEX", "public.t_note", "DROP INDEX t_note") in seen
        assert not [s for s in seen if "other.free" in str(s)]
        # the added column is captured from the very next write
        kit_conn.execute("INSERT INTO t VALUES (1, 'n')")
        assert events(kit_conn)[-1]["new_row"] == {"id": "1", "note": "n"}
    finally:
        kit_conn.execute("DROP OWNED BY viewer; DROP ROLE viewer")


@contextmanager
def _kit_role_users(cluster: Cluster, kit_db: str, suffix: str) -> Iterator[tuple[str, str]]:
    """DSNs of two login roles, one holding the kit's admin role and one its reader role, dropped afterwards."""
    admin, reader = f"kit_admin_{suffix}", f"kit_reader_{suffix}"
    with cluster.admin() as conn:
        conn.execute(f"DROP ROLE IF EXISTS {admin}; DROP ROLE IF EXISTS {reader}")
        conn.execute(f"CREATE ROLE {admin} LOGIN PASSWORD 'pw' IN ROLE pgaudit_kit_admin")
        conn.execute(f"CREATE ROLE {reader} LOGIN PASSWORD 'pw' IN ROLE pgaudit_kit_reader")
    try:
        yield with_params(kit_db, user=admin, password="pw"), with_params(kit_db, user=reader, password="pw")
    finally:
        with cluster.admin() as conn:
            conn.execute(f"DROP ROLE {admin}; DROP ROLE {reader}")


def test_admin_role_can_enrol_and_reader_cannot(cluster: Cluster, kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    with _kit_role_users(cluster, kit_db, "user") as (admin_dsn, reader_dsn):
        reader = cli("enable", "t", dsn=reader_dsn)
        assert reader.exit_code == 3 and "insufficient privilege" in reader.stderr
        admin = cli("enable", "t", dsn=admin_dsn)
        assert admin.exit_code == 0, admin.stderr
        (control,) = events(kit_conn, "operation = 'CONTROL'")
        assert control["session_role"] == "kit_admin_user"


def _options(conn: Conn, table: str) -> dict[str, Any]:
    row = conn.execute("SELECT excluded_columns, redacted_columns, truncate_policy, capture_statement, capture_mode "
                       "FROM pgaudit_kit.enrolled_table WHERE relid = %s::regclass", (table,)).fetchone()
    assert row is not None
    return dict(zip(("excluded", "redacted", "truncate", "statement", "mode"), row, strict=True))


def test_enable_again_changes_only_the_options_given(kit_conn: Conn, kit_db: str) -> None:
    """Re-running enable never resets what it is not told to change: a redaction stays until it is taken away on
    purpose. What changes is printed as before -> after and recorded with the options before."""
    kit_conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, phone text, avatar bytea)")
    first = cli("enable", "customers", "--redact-columns", "email", "--exclude-columns", "avatar", "--truncate",
                "refuse", "--capture-statement", "--capture-mode", "row", dsn=kit_db)
    assert first.exit_code == 0 and "public.customers: enrolled (" in first.stdout, first.output
    assert "redacted columns email" in first.stdout
    expected = {"excluded": ["avatar"], "redacted": ["email"], "truncate": "refuse", "statement": True, "mode": "row"}
    again = cli("enable", "customers", dsn=kit_db)
    assert again.exit_code == 0 and "already enrolled with these options" in again.stdout
    assert _options(kit_conn, "customers") == expected
    more = cli("enable", "customers", "--redact-columns", "phone", dsn=kit_db)
    assert more.exit_code == 0, more.output
    assert more.stdout.strip() == "public.customers: options changed: redacted columns email -> email, phone"
    assert _options(kit_conn, "customers") == {**expected, "redacted": ["email", "phone"]}
    # a redacted column moved to the excluded ones is never recorded in clear: no reason needed
    moved = cli("enable", "customers", "--exclude-columns", "phone", dsn=kit_db)
    assert moved.exit_code == 0 and _options(kit_conn, "customers")["excluded"] == ["avatar", "phone"]
    (last, *_) = reversed(events(kit_conn, "operation = 'CONTROL'"))
    assert last["details"]["action"] == "options"
    assert last["details"]["previous"]["redacted_columns"] == ["email", "phone"]
    assert last["details"]["options"]["redacted_columns"] == ["email"]
    kit_conn.execute("INSERT INTO customers VALUES (1, 'ada@example.org', '555', 'x')")
    (recorded,) = events(kit_conn)
    assert recorded["new_row"]["email"] != "ada@example.org" and set(recorded["new_row"]) == {"id", "email"}


def test_recording_a_column_in_clear_again_needs_its_flag_and_a_reason(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, avatar bytea)")
    assert cli("enable", "customers", "--redact-columns", "email", "--exclude-columns", "avatar",
               dsn=kit_db).exit_code == 0
    refused = cli("enable", "customers", "--unredact-columns", "email", dsn=kit_db)
    assert refused.exit_code == 2 and "would record email of public.customers in clear" in refused.stderr
    assert "needs a reason" in refused.stderr and refused.stdout == ""
    # the database refuses it to every caller, not only to the command line
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="needs a reason"):
        kit_conn.execute("SELECT pgaudit_kit.enable_table('customers', '{avatar}', '{}')")
    assert cli("enable", "customers", "--unredact-columns", "avatar", "--reason", "x",
               dsn=kit_db).exit_code == 2  # not redacted: said, nothing changed
    assert _options(kit_conn, "customers")["redacted"] == ["email"]
    done = cli("enable", "customers", "--unredact-columns", "email", "--include-columns", "avatar", "--reason",
               "CHG-77: not personal data here", dsn=kit_db)
    assert done.exit_code == 0, done.output
    assert "redacted columns email -> none" in done.stdout and "excluded columns avatar -> none" in done.stdout
    assert _options(kit_conn, "customers")["redacted"] == [] and _options(kit_conn, "customers")["excluded"] == []
    (last, *_) = reversed(events(kit_conn, "operation = 'CONTROL'"))
    assert last["details"]["reason"] == "CHG-77: not personal data here"
    assert last["details"]["previous"]["redacted_columns"] == ["email"]


def test_options_can_be_given_per_table_in_one_command(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
    kit_conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text)")
    result = cli("enable", "public.orders", "public.customers", "--redact-columns", "customers.email", dsn=kit_db)
    assert result.exit_code == 0, result.output
    assert _options(kit_conn, "orders")["redacted"] == [] and _options(kit_conn, "customers")["redacted"] == ["email"]
    kit_conn.execute("CREATE TABLE other (id int PRIMARY KEY, email text)")
    stray = cli("enable", "orders", "--redact-columns", "other.email", dsn=kit_db)
    assert stray.exit_code == 2 and "public.other is not one of the tables named" in stray.stderr
    unqualified = cli("enable", "orders", "customers", "--exclude-columns", "email", dsn=kit_db)
    assert unqualified.exit_code == 2 and "has no column email" in unqualified.stderr  # every table named: orders
    assert _options(kit_conn, "customers")["excluded"] == []


def test_enable_and_disable_give_up_on_a_held_lock_and_name_its_holder(kit_conn: Conn, kit_db: str) -> None:
    """An open write transaction holds the table: enable waits --lock-timeout at most (so the writers queued
    behind it wait no longer), then exits 3 naming the backend that holds the lock, with nothing changed."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a')")
    with psycopg.connect(kit_db, application_name="long-writer") as writer:
        writer.execute("UPDATE t SET note = 'b' WHERE id = 1")  # open transaction: ROW EXCLUSIVE held
        pid = writer.info.backend_pid
        result = cli("enable", "t", "--lock-timeout", "0.3", dsn=kit_db)
        assert result.exit_code == 3, result.output
        assert f"backend {pid} (" in result.stderr and "long-writer" in result.stderr
        assert "RowExclusiveLock on t" in result.stderr and "nothing changed" in result.stderr
        assert _enrolled(kit_conn) == [] and _kit_triggers(kit_conn) == 0
        writer.rollback()
    assert cli("enable", "t", dsn=kit_db).exit_code == 0
    with psycopg.connect(kit_db) as writer:
        writer.execute("UPDATE t SET note = 'c' WHERE id = 1")
        result = cli("disable", "t", "--reason", "r", "--lock-timeout", "0.3", dsn=kit_db)
        assert result.exit_code == 3 and f"backend {writer.info.backend_pid} (" in result.stderr, result.output
        writer.rollback()
    assert _enrolled(kit_conn) == ["public.t"]


def test_kit_roles_need_no_privilege_on_the_application_schema(cluster: Cluster, kit_conn: Conn,
                                                              kit_db: str) -> None:
    """The admin enrols, and the reader reviews, a table in a schema they have no USAGE on: the kit's roles act
    on the audit, not on the application's data."""
    kit_conn.execute("CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, note text)")
    with _kit_role_users(cluster, kit_db, "nousage") as (admin, reader):
        with psycopg.connect(admin) as conn:  # the premise: no USAGE on app
            assert conn.execute("SELECT has_schema_privilege('app', 'USAGE')").fetchone() == (False,)
        enrolled = cli("enable", "app.t", "--redact-columns", "note", dsn=admin)
        assert enrolled.exit_code == 0, enrolled.output
        kit_conn.execute("INSERT INTO app.t VALUES (7, 'secret'), (8, 'other')")
        log = cli("log", "--table", "app.t", "--format", "jsonl", dsn=reader)
        assert log.exit_code == 0, log.output
        inserts = [e for e in map(json.loads, log.stdout.splitlines()) if e["op"] == "I"]
        assert sorted(e["pk"]["id"] for e in inserts) == ["7", "8"]
        history = cli("history", "app.t", "7", dsn=reader)
        assert history.exit_code == 0 and "hmac-sha256:" in history.stdout, history.output
        disabled = cli("disable", "app.t", "--reason", "test over", dsn=admin)
        assert disabled.exit_code == 0, disabled.output
