"""What is recorded for each kind of write, with exact expected events."""

from __future__ import annotations

import io
from typing import Any

import psycopg
import pytest

from tests.support.cluster import Cluster
from tests.support.helpers import enable, events

Conn = psycopg.Connection[Any]


def _summary(conn: Conn) -> list[tuple[Any, ...]]:
    return [(e["operation"], e["table_name"], e["pk"], e["old_row"], e["new_row"], e["changed_columns"]) for e in events(conn)]


@pytest.fixture
def accounts(kit_conn: Conn) -> Conn:
    kit_conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL DEFAULT 0)")
    enable(kit_conn, "accounts")
    return kit_conn


def test_insert_update_delete(accounts: Conn) -> None:
    accounts.execute("INSERT INTO accounts VALUES (1, 'ada', 10), (2, 'bob', 20)")
    accounts.execute("UPDATE accounts SET balance = balance + 5 WHERE id = 1")
    accounts.execute("UPDATE accounts SET owner = owner WHERE id = 2")  # no-op update is still a recorded write
    accounts.execute("DELETE FROM accounts WHERE id = 2")
    assert _summary(accounts) == [
        ("INSERT", "accounts", {"id": "1"}, None, {"id": "1", "owner": "ada", "balance": "10"}, None),
        ("INSERT", "accounts", {"id": "2"}, None, {"id": "2", "owner": "bob", "balance": "20"}, None),
        ("UPDATE", "accounts", {"id": "1"}, {"id": "1", "owner": "ada", "balance": "10"},
         {"id": "1", "owner": "ada", "balance": "15"}, ["balance"]),
        ("UPDATE", "accounts", {"id": "2"}, {"id": "2", "owner": "bob", "balance": "20"},
         {"id": "2", "owner": "bob", "balance": "20"}, []),
        ("DELETE", "accounts", {"id": "2"}, {"id": "2", "owner": "bob", "balance": "20"}, None, None),
    ]


def test_multi_row_update_pairs_old_and_new_rows(accounts: Conn) -> None:
    accounts.execute("INSERT INTO accounts SELECT g, 'o' || g, g FROM generate_series(1, 500) g")
    accounts.execute("UPDATE accounts SET balance = balance * 10, owner = upper(owner)")
    updates = events(accounts, "operation = 'UPDATE'")
    assert len(updates) == 500
    for e in updates:
        assert e["old_row"]["id"] == e["new_row"]["id"] == e["pk"]["id"]
        assert int(e["new_row"]["balance"]) == int(e["old_row"]["balance"]) * 10
        assert e["new_row"]["owner"] == e["old_row"]["owner"].upper()
        assert sorted(e["changed_columns"]) == ["balance", "owner"]


def test_update_changing_the_primary_key(accounts: Conn) -> None:
    accounts.execute("INSERT INTO accounts VALUES (1, 'ada', 10)")
    accounts.execute("UPDATE accounts SET id = 7")
    (e,) = events(accounts, "operation = 'UPDATE'")
    assert e["pk"] == {"id": "7"} and e["old_row"]["id"] == "1" and e["changed_columns"] == ["id"]


def test_insert_on_conflict(accounts: Conn) -> None:
    accounts.execute("INSERT INTO accounts VALUES (1, 'ada', 10)")
    accounts.execute("INSERT INTO accounts VALUES (1, 'ada', 99), (2, 'bob', 5) "
                     "ON CONFLICT (id) DO UPDATE SET balance = excluded.balance")
    accounts.execute("INSERT INTO accounts VALUES (2, 'x', 0) ON CONFLICT DO NOTHING")
    # Within one statement, PostgreSQL fires the UPDATE part's statement trigger first: compare as sets.
    assert sorted((e["operation"], e["pk"]["id"], e["new_row"]["balance"]) for e in events(accounts)) == [
        ("INSERT", "1", "10"), ("INSERT", "2", "5"), ("UPDATE", "1", "99"),
    ]


def test_merge(cluster: Cluster, accounts: Conn) -> None:
    if cluster.major < 15:
        with pytest.raises(psycopg.errors.SyntaxError):
            accounts.execute("MERGE INTO accounts a USING (VALUES (1)) s(id) ON a.id = s.id WHEN MATCHED THEN DELETE")
        return
    accounts.execute("INSERT INTO accounts VALUES (1, 'ada', 10), (2, 'bob', 20)")
    accounts.execute("""
        MERGE INTO accounts a USING (VALUES (1, 1), (2, 0), (3, 30)) AS s(id, amount) ON a.id = s.id
        WHEN MATCHED AND s.amount = 0 THEN DELETE
        WHEN MATCHED THEN UPDATE SET balance = a.balance + s.amount
        WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'new', s.amount)""")
    merged = sorted((e["operation"], e["pk"]["id"]) for e in events(accounts)[2:])
    assert merged == [("DELETE", "2"), ("INSERT", "3"), ("UPDATE", "1")]
    (update,) = [e for e in events(accounts)[2:] if e["operation"] == "UPDATE"]
    assert update["old_row"]["balance"] == "10" and update["new_row"]["balance"] == "11"


def test_copy_from_and_insert_select(accounts: Conn) -> None:
    with accounts.cursor() as cur, cur.copy("COPY accounts (id, owner, balance) FROM STDIN") as copy:
        copy.write("1\tada\t1\n2\tbob\t2\n")
    accounts.execute("INSERT INTO accounts SELECT id + 10, owner, balance FROM accounts")
    assert [e["pk"]["id"] for e in events(accounts)] == ["1", "2", "11", "12"]


def test_writes_through_an_updatable_view(accounts: Conn) -> None:
    accounts.execute("CREATE VIEW rich AS SELECT * FROM accounts WHERE balance > 100")
    accounts.execute("INSERT INTO rich VALUES (1, 'ada', 500)")
    accounts.execute("UPDATE rich SET balance = 600")
    accounts.execute("DELETE FROM rich")
    assert [e["operation"] for e in events(accounts)] == ["INSERT", "UPDATE", "DELETE"]


def test_foreign_key_cascades_are_recorded(kit_conn: Conn) -> None:
    kit_conn.execute("""
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE ON UPDATE CASCADE);""")
    enable(kit_conn, "parent")
    enable(kit_conn, "child")
    kit_conn.execute("INSERT INTO parent VALUES (1); INSERT INTO child VALUES (10, 1), (11, 1)")
    kit_conn.execute("UPDATE parent SET id = 2")
    kit_conn.execute("DELETE FROM parent")
    got = [(e["operation"], e["table_name"], e["pk"]["id"]) for e in events(kit_conn)][3:]
    assert sorted(got[:3]) == [("UPDATE", "child", "10"), ("UPDATE", "child", "11"), ("UPDATE", "parent", "2")]
    assert sorted(got[3:]) == [("DELETE", "child", "10"), ("DELETE", "child", "11"), ("DELETE", "parent", "2")]


def test_orm_style_prepared_statements_are_recorded(kit_db: str, accounts: Conn) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(kit_db))
    meta = sa.MetaData()
    table = sa.Table("accounts", meta, autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "owner": f"u{i}", "balance": i} for i in range(3)])
        conn.execute(table.update().where(table.c.id == 1).values(balance=100))
    engine.dispose()
    assert [(e["operation"], e["pk"]["id"]) for e in events(accounts)] == [
        ("INSERT", "0"), ("INSERT", "1"), ("INSERT", "2"), ("UPDATE", "1")]


def test_truncate_records_every_row(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE nopk (v text)")
    enable(kit_conn, "t")
    enable(kit_conn, "nopk")
    kit_conn.execute("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3) g; INSERT INTO nopk VALUES ('a'), ('a')")
    kit_conn.execute("TRUNCATE t, nopk")
    truncated = [(e["table_name"], e["pk"], e["old_row"]) for e in events(kit_conn, "operation = 'TRUNCATE'")]
    assert sorted(truncated, key=str) == sorted([
        ("t", {"id": "1"}, {"id": "1", "v": "v1"}), ("t", {"id": "2"}, {"id": "2", "v": "v2"}),
        ("t", {"id": "3"}, {"id": "3", "v": "v3"}), ("nopk", None, {"v": "a"}), ("nopk", None, {"v": "a"}),
    ], key=str)


def test_truncate_refused_by_policy(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t", truncate="refuse")
    kit_conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pgaudit-kit: TRUNCATE of public.t is refused"):
        kit_conn.execute("TRUNCATE t")
    assert kit_conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_transaction_record_who_and_where(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    kit_conn.execute("DROP ROLE IF EXISTS app_writer; CREATE ROLE app_writer; GRANT INSERT ON t TO app_writer")
    try:
        with kit_conn.transaction():
            kit_conn.execute("SET LOCAL ROLE app_writer")
            kit_conn.execute("SET LOCAL application_name = 'billing-api'")
            kit_conn.execute("SELECT set_config('pgaudit_kit.actor', 'alice@example.com', true)")
            kit_conn.execute("""SELECT set_config('pgaudit_kit.context', '{"request_id": "r-1", "trace_id": "t-9"}', true)""")
            xid = kit_conn.execute("SELECT pg_current_xact_id()::text").fetchone()
            pid = kit_conn.execute("SELECT pg_backend_pid()").fetchone()
            kit_conn.execute("INSERT INTO t VALUES (1)")
            kit_conn.execute("INSERT INTO t VALUES (2)")
        (tx,) = kit_conn.execute(
            "SELECT xid::text, session_role, acting_role, actor, context, context_raw, application_name, "
            "host(client_addr), client_port > 0, backend_pid, xact_start <= now() FROM pgaudit_kit.transaction "
            "WHERE xid IN (SELECT xid FROM pgaudit_kit.event WHERE op = 'I')"
        ).fetchall()
        assert tx == (xid[0] if xid else None, "postgres", "app_writer", "alice@example.com",
                      {"request_id": "r-1", "trace_id": "t-9"}, None, "billing-api", "127.0.0.1", True,
                      pid[0] if pid else None, True)
        assert {str(e["xid"]) for e in events(kit_conn)} == {tx[0]}
    finally:
        kit_conn.execute("DROP OWNED BY app_writer; DROP ROLE app_writer")


def test_malformed_context_is_kept_as_text(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    with kit_conn.transaction():
        kit_conn.execute("SELECT set_config('pgaudit_kit.context', 'request_id=abc; not json', true)")
        kit_conn.execute("INSERT INTO t VALUES (1)")
    assert kit_conn.execute(
        "SELECT context, context_raw FROM pgaudit_kit.transaction WHERE xid IN (SELECT xid FROM pgaudit_kit.event WHERE op = 'I')"
    ).fetchall() == [(None, "request_id=abc; not json")]


def test_rolled_back_writes_leave_no_events(accounts: Conn) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation), accounts.transaction():
        accounts.execute("INSERT INTO accounts VALUES (1, 'a', 1)")
        accounts.execute("INSERT INTO accounts VALUES (1, 'a', 1)")
    assert events(accounts) == []
    # only the enrolment's own transaction is on record
    assert accounts.execute("SELECT count(*) FROM pgaudit_kit.transaction").fetchone() == (1,)


def test_savepoint_rollback_keeps_transaction_record(accounts: Conn) -> None:
    with accounts.transaction():
        with pytest.raises(psycopg.errors.UniqueViolation), accounts.transaction():
            accounts.execute("INSERT INTO accounts VALUES (1, 'a', 1)")
            accounts.execute("INSERT INTO accounts VALUES (1, 'a', 1)")
        accounts.execute("INSERT INTO accounts VALUES (2, 'b', 2)")
    assert [e["pk"]["id"] for e in events(accounts)] == ["2"]
    assert events(accounts)[0]["acting_role"] == "postgres"


def test_statement_text_is_off_by_default_and_on_per_table(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE quiet (id int PRIMARY KEY); CREATE TABLE loud (id int PRIMARY KEY)")
    enable(kit_conn, "quiet")
    enable(kit_conn, "loud", statement=True)
    kit_conn.execute("INSERT INTO quiet VALUES (1)")
    kit_conn.execute("INSERT INTO loud VALUES (1) /* secret-ish */")
    assert [(e["table_name"], e["statement"]) for e in events(kit_conn)] == [
        ("quiet", None), ("loud", "INSERT INTO loud VALUES (1) /* secret-ish */")]


def test_excluded_and_redacted_columns(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE users (id int PRIMARY KEY, email text, avatar bytea, ssn text)")
    enable(kit_conn, "users", exclude=["avatar"], redact=["ssn", "email"])
    kit_conn.execute("INSERT INTO users VALUES (1, 'a@x', '\\x00', '123'), (2, 'b@x', NULL, '123')")
    kit_conn.execute("UPDATE users SET avatar = '\\x01' WHERE id = 1")
    kit_conn.execute("UPDATE users SET ssn = '999' WHERE id = 2")
    ins1, ins2, upd1, upd2 = events(kit_conn)
    assert "avatar" not in ins1["new_row"]
    assert ins1["new_row"]["ssn"].startswith("hmac-sha256:") and len(ins1["new_row"]["ssn"]) == 12 + 64
    # no value is the clear text (a digest's hex may contain "123" by chance: compare whole values)
    assert "123" not in ins1["new_row"].values() and "a@x" not in ins1["new_row"].values()
    assert ins1["new_row"]["email"].startswith("hmac-sha256:")
    assert ins1["new_row"]["ssn"] == ins2["new_row"]["ssn"]  # equal values, equal digests
    assert upd1["changed_columns"] == []  # the only change was to an excluded column
    assert upd2["changed_columns"] == ["ssn"] and upd2["old_row"]["ssn"] != upd2["new_row"]["ssn"]


def test_session_replication_role_replica_does_not_skip_capture(accounts: Conn) -> None:
    accounts.execute("SET session_replication_role = replica")
    accounts.execute("INSERT INTO accounts VALUES (1, 'ada', 1)")
    accounts.execute("RESET session_replication_role")
    assert len(events(accounts)) == 1


def test_images_do_not_depend_on_session_settings(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz, d date, i interval, f float8, b bytea, m money)")
    enable(kit_conn, "t")
    settings = [
        ("UTC", "ISO, MDY", "postgres", 0, "hex", "C"),
        ("America/Los_Angeles", "SQL, DMY", "postgres_verbose", -15, "escape", "C"),
        ("Asia/Kolkata", "German", "sql_standard", 3, "hex", "C"),
    ]
    for n, (tz, style, istyle, digits, bytea_output, monetary) in enumerate(settings):
        kit_conn.execute(f"SET TimeZone = '{tz}'; SET DateStyle = '{style}'; SET IntervalStyle = '{istyle}'; "
                         f"SET extra_float_digits = {digits}; SET bytea_output = '{bytea_output}'; SET lc_monetary = '{monetary}'")
        kit_conn.execute("INSERT INTO t VALUES (%s, '2024-02-29 23:30:00+00', '2024-02-29', '1 day 02:03:04.5', 0.1, "
                         "'\\xdeadbeef', 12.34)", (n,))
    kit_conn.execute("RESET ALL")
    images = [{k: v for k, v in e["new_row"].items() if k != "id"} for e in events(kit_conn)]
    assert images[0] == images[1] == images[2] == {
        "at": "2024-02-29 23:30:00+00", "d": "2024-02-29", "i": "1 day 02:03:04.5", "f": "0.1",
        "b": "\\xdeadbeef", "m": "$12.34"}


def test_bulk_update_is_recorded_set_based(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE big (id int PRIMARY KEY, v int)")
    enable(kit_conn, "big")
    kit_conn.execute("INSERT INTO big SELECT g, 0 FROM generate_series(1, 20000) g")
    kit_conn.execute("UPDATE big SET v = v + 1")
    calls = kit_conn.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'big'::regclass AND tgtype & 1 = 1 AND tgname::text LIKE 'pgaudit%'"
    ).fetchone()
    assert calls == (0,), "capture of a plain table must not use row-level triggers"
    # 20 chunks of up to 1,024 rows (pgaudit_kit.event_chunk); sealing expands them into events
    assert kit_conn.execute("SELECT count(*), sum(n_events) FROM pgaudit_kit.event_chunk WHERE op = 'U'"
                            ).fetchone() == (20, 20000)
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.recorded_event WHERE op = 'U'").fetchone() == (20000,)


def test_copy_binary_large_batch_is_exact(accounts: Conn) -> None:
    buf = io.StringIO("".join(f"{i}\towner {i}\t{i * 3}\n" for i in range(1, 2001)))
    with accounts.cursor() as cur, cur.copy("COPY accounts FROM STDIN") as copy:
        copy.write(buf.getvalue())
    got = {(e["new_row"]["id"], e["new_row"]["owner"], e["new_row"]["balance"]) for e in events(accounts)}
    assert got == {(str(i), f"owner {i}", str(i * 3)) for i in range(1, 2001)}



@pytest.mark.parametrize("mode", ["statement", "row"])
def test_resetting_the_session_or_rolling_back_the_first_write_keeps_one_who_where_row(kit_conn: Conn,
                                                                                      mode: str) -> None:
    """Capture knows its transaction's who/where row is written from a transaction-local setting and currval():
    RESET ALL clears the first, a rollback to a savepoint restores it but not the second. Either way the
    transaction keeps writing, every write is recorded, and it has exactly one who/where row: the one written
    first, or the one written after the first was rolled back."""
    kit_conn.execute("CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL)")
    kit_conn.execute("SELECT pgaudit_kit.enable_table('acct', '{}', '{}', 'capture', false, %s)", (mode,))
    xids = []
    with kit_conn.transaction():
        kit_conn.execute("SELECT set_config('pgaudit_kit.actor', 'first', true)")
        kit_conn.execute("INSERT INTO acct VALUES (1, 10)")
        kit_conn.execute("RESET ALL")
        assert kit_conn.execute("SELECT current_setting('pgaudit_kit.recorded_xact', true)").fetchone() in [("",), (None,)]
        kit_conn.execute("SELECT set_config('pgaudit_kit.actor', 'second', true)")
        kit_conn.execute("INSERT INTO acct VALUES (2, 20)")
        xids.append(kit_conn.execute("SELECT pg_current_xact_id()::text").fetchone())
    with kit_conn.transaction():
        with kit_conn.transaction():  # a savepoint around the transaction's first audited write, rolled back
            kit_conn.execute("SELECT set_config('pgaudit_kit.actor', 'undone', true)")
            kit_conn.execute("INSERT INTO acct VALUES (3, 30)")
            raise psycopg.Rollback()
        kit_conn.execute("SELECT set_config('pgaudit_kit.actor', 'after', true)")
        kit_conn.execute("INSERT INTO acct VALUES (4, 40)")
        xids.append(kit_conn.execute("SELECT pg_current_xact_id()::text").fetchone())
    recorded = kit_conn.execute(
        "SELECT t.xid::text, t.actor, array_agg(e.pk->>'id' ORDER BY e.id) FROM pgaudit_kit.transaction t "
        "JOIN pgaudit_kit.event e ON e.xid = t.xid WHERE e.op = 'I' GROUP BY 1, 2 ORDER BY 1").fetchall()
    assert recorded == [(xids[0][0], "first", ["1", "2"]), (xids[1][0], "after", ["4"])]
