"""Enrolment through the CLI and the SQL functions: validation, idempotence, options, auto-enrolment,
DDL recording and who may do it."""

from __future__ import annotations

import json
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


def test_admin_role_can_enrol_and_reader_cannot(cluster: Cluster, kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    with cluster.admin() as conn:
        conn.execute("DROP ROLE IF EXISTS kit_admin_user; DROP ROLE IF EXISTS kit_reader_user")
        conn.execute("CREATE ROLE kit_admin_user LOGIN PASSWORD 'pw' IN ROLE pgaudit_kit_admin")
        conn.execute("CREATE ROLE kit_reader_user LOGIN PASSWORD 'pw' IN ROLE pgaudit_kit_reader")
    try:
        reader = cli("enable", "t", dsn=with_params(kit_db, user="kit_reader_user", password="pw"))
        assert reader.exit_code == 3 and "insufficient privilege" in reader.stderr
        admin = cli("enable", "t", dsn=with_params(kit_db, user="kit_admin_user", password="pw"))
        assert admin.exit_code == 0, admin.stderr
        (control,) = events(kit_conn, "operation = 'CONTROL'")
        assert control["session_role"] == "kit_admin_user"
    finally:
        with cluster.admin() as conn:
            conn.execute("DROP ROLE kit_admin_user; DROP ROLE kit_reader_user")
