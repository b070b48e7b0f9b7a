"""`pgaudit-kit reconcile`: live rows the audit log cannot explain.

Every bypass here is real: as a superuser, the kit's event triggers and guards are switched off, the
table's triggers disabled, the write done, and every trigger put back as it was (ENABLE ALWAYS), so
that nothing but the data itself shows what happened. The assertions name the exact rows reported.
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgaudit_kit.pg import db
from pgaudit_kit.verify import reconcile as reconciling
from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable, guards_off, run_with_stderr_on_a_terminal, with_params

Conn = psycopg.Connection[Any]


# ---------------------------------------------------------------------------------------------------
# helpers


def _max_event_id(conn: Conn) -> int:
    row = conn.execute("SELECT coalesce(max(id), 0) FROM pgaudit_kit.event").fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def capture_bypassed(conn: Conn, *tables: str) -> Iterator[Conn]:
    """Write to *tables* (and their partitions) with capture switched off, then put every trigger back as
    it was. Asserts that nothing was recorded in between: the bypass is real."""
    with guards_off(conn):
        rels = [r[0] for r in conn.execute(
            "SELECT DISTINCT r::regclass::text FROM unnest(%s::regclass[]) t,"
            " LATERAL (SELECT t::oid UNION SELECT relid::oid FROM pg_partition_tree(t)) p(r)", (list(tables),))]
        states = conn.execute(
            "SELECT tgrelid::regclass::text, tgname::text, tgenabled::text FROM pg_trigger"
            " WHERE tgrelid = ANY (%s::regclass[]) AND NOT tgisinternal", (rels,)).fetchall()
        assert any(name.startswith("pgaudit_kit_capture_") for _, name, _ in states)
        for rel in rels:
            conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.SQL(rel)))
        before = _max_event_id(conn)
        yield conn
        assert _max_event_id(conn) == before, "the bypassing writes were recorded after all"
        enabling = {"A": "ENABLE ALWAYS", "O": "ENABLE", "R": "ENABLE REPLICA", "D": "DISABLE"}
        for rel, name, state in states:
            conn.execute(sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                sql.SQL(rel), sql.SQL(enabling[state]), sql.Identifier(name)))
    problems = conn.execute("SELECT problem FROM pgaudit_kit.invariant_problems()").fetchall()
    assert problems == [], "the bypass left visible traces in the catalog"


def run(dsn: str, *tables: str) -> tuple[int, dict[str, Any]]:
    result = cli("reconcile", *tables, "--format", "json", dsn=dsn)
    assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["clean"] == (result.exit_code == 0) == (report["problems"] == [])
    assert report["problem_count"] == len(report["problems"])
    return result.exit_code, report


def found(report: dict[str, Any]) -> set[tuple[Any, ...]]:
    """Problems as (table, kind, key) for keyed tables and (table, kind, image, rows) for the others."""
    out: set[tuple[Any, ...]] = set()
    for p in report["problems"]:
        if p["pk"] is None:
            image = p["live"] if p["problem"] == "unrecorded" else p["recorded"]
            out.add((p["table"], p["problem"], json.dumps(image, sort_keys=True), p["rows"]))
        else:
            out.add((p["table"], p["problem"], json.dumps(p["pk"], sort_keys=True)))
    return out


def key(**columns: Any) -> str:
    return json.dumps({k: str(v) for k, v in columns.items()}, sort_keys=True)


def assert_clean(dsn: str, *tables: str) -> dict[str, Any]:
    code, report = run(dsn, *tables)
    assert (code, report["problems"]) == (0, []), report["problems"]
    return report


# ---------------------------------------------------------------------------------------------------
# a schema with every shape capture handles


SCHEMA = """
CREATE TABLE accounts (
    id int PRIMARY KEY, owner text NOT NULL, balance numeric(12, 2), note text, secret text, avatar bytea,
    code char(6), opened timestamptz, ratio float8, span interval, tags text[]);
CREATE TABLE "Order Lines" ("Order Id" int, "line No" int, qty int NOT NULL, PRIMARY KEY ("Order Id", "line No"));
CREATE TABLE readings (site text, at date, value int, PRIMARY KEY (site, at)) PARTITION BY LIST (site);
CREATE TABLE readings_north PARTITION OF readings FOR VALUES IN ('north');
CREATE TABLE readings_south PARTITION OF readings FOR VALUES IN ('south');
CREATE TABLE log (msg text, level int);
"""
TABLES = ("public.accounts", 'public."Order Lines"', "public.readings", "public.log")


@pytest.fixture
def shop(kit_conn: Conn) -> Conn:
    """The four tables, enrolled, after captured writes of every kind, from a session whose settings
    differ from capture's fixed ones (time zone, date style, float digits, bytea output)."""
    conn = kit_conn
    conn.execute(SCHEMA)
    enable(conn, "accounts", exclude=["avatar"], redact=["secret"])
    for table in ('"Order Lines"', "readings", "log"):
        enable(conn, table)
    conn.execute("SET TimeZone = 'America/New_York'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = 0;"
                 " SET bytea_output = 'escape'; SET IntervalStyle = 'sql_standard'")
    conn.execute("""INSERT INTO accounts VALUES
        (1, 'ada', 10.50, NULL, 'pin-1', '\\x00ff', 'A1', '2024-02-29 23:30:00+00', 0.1, '1 day 2 hours', '{a,b}'),
        (2, 'bob', 20, 'vip', 'pin-2', NULL, 'B', '2024-03-01 00:00:00+00', 1e300, '-3 months', NULL),
        (3, 'cy', 30, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{}'),
        (4, 'dee', 40, NULL, 'pin-4', '\\x01', 'D4    ', now(), 'NaN', NULL, '{"x y"}')""")
    conn.execute("UPDATE accounts SET balance = balance + 1, secret = 'pin-1b' WHERE id = 1")
    conn.execute("UPDATE accounts SET note = NULL, avatar = '\\x02' WHERE id = 2")
    conn.execute("DELETE FROM accounts WHERE id = 3")
    conn.execute("UPDATE accounts SET id = 5 WHERE id = 4")  # the key changes: 4 is gone, 5 is there
    conn.execute('INSERT INTO "Order Lines" SELECT o, l, o * l FROM generate_series(1, 3) o, generate_series(1, 3) l')
    conn.execute('UPDATE "Order Lines" SET qty = qty + 100 WHERE "line No" = 2')
    conn.execute('DELETE FROM "Order Lines" WHERE "Order Id" = 3 AND "line No" = 3')
    conn.execute("""INSERT INTO readings VALUES ('north', '2024-01-01', 1), ('north', '2024-01-02', 2),
                    ('south', '2024-01-01', 3), ('south', '2024-01-02', 4)""")
    conn.execute("UPDATE readings SET site = 'south', at = '2024-01-03' WHERE site = 'north' AND at = '2024-01-02'")
    conn.execute("UPDATE readings SET value = 40 WHERE site = 'south' AND at = '2024-01-02'")
    conn.execute("TRUNCATE readings_north")
    conn.execute("INSERT INTO readings VALUES ('north', '2024-01-01', 10)")
    conn.execute("INSERT INTO log VALUES ('boot', 1), ('boot', 1), ('boot', 1), ('tick', 2), ('tick', 2), (NULL, NULL)")
    conn.execute("DELETE FROM log WHERE ctid = (SELECT min(ctid) FROM log WHERE msg = 'boot')")
    conn.execute("UPDATE log SET level = 3 WHERE ctid = (SELECT min(ctid) FROM log WHERE msg = 'tick')")
    conn.execute("TRUNCATE log")
    conn.execute("INSERT INTO log VALUES ('boot', 1), ('boot', 1), ('halt', 9), (NULL, NULL)")
    conn.execute("RESET ALL")
    return conn


def test_captured_writes_of_every_kind_are_explained(shop: Conn, kit_db: str) -> None:
    report = assert_clean(kit_db)
    assert report["tables"] == [
        {"table": 'public."Order Lines"', "rows_compared": 8, "problems": 0},
        {"table": "public.accounts", "rows_compared": 3, "problems": 0},
        {"table": "public.log", "rows_compared": 4, "problems": 0},
        {"table": "public.readings", "rows_compared": 4, "problems": 0},
    ]
    assert report["rows_compared"] == 19
    text = cli("reconcile", "accounts", dsn=kit_db)
    assert text.exit_code == 0
    assert text.stdout.splitlines() == ["public.accounts: 3 live rows compared, all explained by the log",
                                        "1 table, 3 live rows: clean"]


def test_bypassing_writes_are_reported_row_by_row(shop: Conn, kit_db: str) -> None:
    with capture_bypassed(shop, *TABLES) as conn:
        conn.execute("UPDATE accounts SET balance = 1000000 WHERE id = 1")
        conn.execute("UPDATE accounts SET secret = 'stolen' WHERE id = 2")  # redacted: its digest differs
        conn.execute("UPDATE accounts SET avatar = '\\x99' WHERE id = 5")  # excluded: never recorded, not compared
        conn.execute("INSERT INTO accounts (id, owner) VALUES (3, 'cy again'), (99, 'mallory')")
        conn.execute('DELETE FROM "Order Lines" WHERE "Order Id" = 1 AND "line No" = 2')
        conn.execute('UPDATE "Order Lines" SET qty = 0 WHERE "Order Id" = 2 AND "line No" = 1')
        conn.execute("UPDATE readings SET value = -1 WHERE site = 'south' AND at = '2024-01-01'")
        conn.execute("DELETE FROM readings WHERE site = 'north'")
        conn.execute("INSERT INTO readings VALUES ('north', '2024-02-01', 7)")
        conn.execute("INSERT INTO log VALUES ('boot', 1)")  # one more of an image the log has twice
        conn.execute("DELETE FROM log WHERE msg = 'halt'")
        conn.execute("DELETE FROM log WHERE msg IS NULL")
        conn.execute("INSERT INTO log VALUES ('evil', 0), ('evil', 0)")
    code, report = run(kit_db)
    assert code == 1
    assert found(report) == {
        ("public.accounts", "changed", key(id=1)),
        ("public.accounts", "changed", key(id=2)),
        ("public.accounts", "unrecorded", key(id=3)),  # recorded as deleted, yet there
        ("public.accounts", "unrecorded", key(id=99)),
        ('public."Order Lines"', "missing", key(**{"Order Id": 1, "line No": 2})),
        ('public."Order Lines"', "changed", key(**{"Order Id": 2, "line No": 1})),
        ("public.readings", "changed", key(site="south", at="2024-01-01")),
        ("public.readings", "missing", key(site="north", at="2024-01-01")),
        ("public.readings", "unrecorded", key(site="north", at="2024-02-01")),
        ("public.log", "unrecorded", key(level=1, msg="boot"), 1),
        ("public.log", "unrecorded", key(level=0, msg="evil"), 2),
        ("public.log", "missing", key(level=9, msg="halt"), 1),
        ("public.log", "missing", json.dumps({"level": None, "msg": None}), 1),
    }
    by_key = {(p["table"], json.dumps(p["pk"], sort_keys=True)): p for p in report["problems"]}
    changed = by_key[("public.accounts", key(id=1))]
    assert changed["columns"] == ["balance"]
    assert (changed["live"]["balance"], changed["recorded"]["balance"]) == ("1000000.00", "11.50")
    assert changed["live"]["secret"].startswith("hmac-sha256:") and "avatar" not in changed["live"]
    assert by_key[("public.accounts", key(id=2))]["columns"] == ["secret"]
    assert by_key[("public.accounts", key(id=3))]["event_id"] is not None  # the delete it contradicts
    assert by_key[("public.accounts", key(id=99))]["event_id"] is None
    assert [t["problems"] for t in report["tables"]] == [2, 4, 4, 3]

    text = cli("reconcile", "accounts", "Order Lines", dsn=kit_db)
    assert text.exit_code == 2  # names resolve like SQL: unquoted mixed case does not exist
    text = cli("reconcile", "accounts", '"Order Lines"', dsn=kit_db)
    assert text.exit_code == 1
    lines = text.stdout.splitlines()
    assert lines[0].startswith('public.accounts: changed {"id": "1"}: column balance differs from the newest '
                               "recorded image (event ")
    assert lines[2].startswith('public.accounts: unrecorded {"id": "3"}: live row, but event ')
    assert lines[3] == ('public.accounts: unrecorded {"id": "99"}: live row with no recorded write since the '
                        "table was enrolled")
    assert lines[4] == "public.accounts: 5 live rows compared, 4 problems"
    assert lines[-2:] == ['public."Order Lines": 7 live rows compared, 2 problems',
                          "2 tables, 12 live rows: 6 problems (writes that bypassed capture)"]


def test_keyless_table_counts_duplicates(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE pairs (a int, b text)")
    enable(kit_conn, "pairs")
    kit_conn.execute("INSERT INTO pairs VALUES (1, 'x'), (1, 'x'), (1, 'x'), (2, 'y')")
    kit_conn.execute("DELETE FROM pairs WHERE ctid = (SELECT min(ctid) FROM pairs WHERE a = 1)")
    assert_clean(kit_db, "pairs")
    with capture_bypassed(kit_conn, "pairs") as conn:
        conn.execute("DELETE FROM pairs WHERE ctid = (SELECT min(ctid) FROM pairs WHERE a = 1)")  # one of two
        conn.execute("UPDATE pairs SET b = 'z' WHERE a = 2")
    code, report = run(kit_db, "pairs")
    assert code == 1
    assert found(report) == {
        ("public.pairs", "missing", key(a=1, b="x"), 1),
        ("public.pairs", "missing", key(a=2, b="y"), 1),
        ("public.pairs", "unrecorded", key(a=2, b="z"), 1),
    }
    text = cli("reconcile", "pairs", dsn=kit_db).stdout.splitlines()
    assert text[:3] == [
        'public.pairs: missing {"a": "1", "b": "x"}: 1 fewer live row with this image than the log explains',
        'public.pairs: missing {"a": "2", "b": "y"}: 1 fewer live row with this image than the log explains',
        'public.pairs: unrecorded {"a": "2", "b": "z"}: 1 more live row with this image than the log explains',
    ]


def test_bypassing_truncate_is_reported_row_by_row(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE b (v text)")
    enable(kit_conn, "t")
    enable(kit_conn, "b")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO b VALUES ('x'), ('x'), ('y')")
    with capture_bypassed(kit_conn, "t", "b") as conn:
        conn.execute("TRUNCATE t, b")
        conn.execute("INSERT INTO t VALUES (2, 'forged')")
    code, report = run(kit_db)
    assert (code, found(report)) == (1, {
        ("public.t", "missing", key(id=1)), ("public.t", "changed", key(id=2)), ("public.t", "missing", key(id=3)),
        ("public.b", "missing", key(v="x"), 2), ("public.b", "missing", key(v="y"), 1),
    })


def test_inheritance_parent_and_child_are_reconciled_apart(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE animal (id int PRIMARY KEY, name text)")
    kit_conn.execute("CREATE TABLE dog (good boolean) INHERITS (animal)")
    kit_conn.execute("ALTER TABLE dog ADD PRIMARY KEY (id)")
    enable(kit_conn, "animal")  # enrols the child too
    kit_conn.execute("INSERT INTO animal VALUES (1, 'cat')")
    kit_conn.execute("INSERT INTO dog VALUES (1, 'rex', true), (2, 'fido', true)")
    kit_conn.execute("UPDATE animal SET name = upper(name)")  # reaches the child's rows too
    assert_clean(kit_db, "animal", "dog")
    with capture_bypassed(kit_conn, "animal", "dog") as conn:
        conn.execute("UPDATE dog SET good = false WHERE id = 2")
    code, report = run(kit_db)
    assert (code, found(report)) == (1, {("public.dog", "changed", key(id=2))})
    assert {t["table"]: t["rows_compared"] for t in report["tables"]} == {"public.animal": 1, "public.dog": 2}


# ---------------------------------------------------------------------------------------------------
# what the log explains without a recorded write


def test_rows_that_predate_enrolment_are_explained_until_written(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE old_keyed (id int PRIMARY KEY, v text)")
    kit_conn.execute("CREATE TABLE old_bag (v text)")
    kit_conn.execute("INSERT INTO old_keyed SELECT g, 'v' || g FROM generate_series(1, 5) g")
    kit_conn.execute("INSERT INTO old_bag VALUES ('a'), ('a'), ('b')")
    with kit_conn.transaction():  # rows written by the enrolling transaction itself, before capture
        kit_conn.execute("INSERT INTO old_keyed VALUES (6, 'v6')")
        enable(kit_conn, "old_keyed")
        enable(kit_conn, "old_bag")
    kit_conn.execute("VACUUM FREEZE old_keyed")
    kit_conn.execute("UPDATE old_keyed SET v = 'w' WHERE id = 2")
    kit_conn.execute("DELETE FROM old_keyed WHERE id = 3")
    kit_conn.execute("DELETE FROM old_bag WHERE ctid = (SELECT min(ctid) FROM old_bag WHERE v = 'a')")
    kit_conn.execute("INSERT INTO old_bag VALUES ('b')")
    assert_clean(kit_db, "old_keyed", "old_bag")

    with capture_bypassed(kit_conn, "old_keyed", "old_bag") as conn:
        conn.execute("UPDATE old_keyed SET v = 'forged' WHERE id = 4")  # a new row version: no longer old
        conn.execute("INSERT INTO old_keyed VALUES (7, 'new')")
        conn.execute("INSERT INTO old_bag VALUES ('c')")
    kit_conn.execute("VACUUM FREEZE old_keyed")  # freezing keeps the original xmin: still caught
    code, report = run(kit_db, "old_keyed", "old_bag")
    assert (code, found(report)) == (1, {
        ("public.old_keyed", "unrecorded", key(id=4)),
        ("public.old_keyed", "unrecorded", key(id=7)),
        ("public.old_bag", "unrecorded", key(v="c"), 1),
    })


def test_disabled_then_reenrolled_table_is_judged_from_the_new_enrolment(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 4) g")
    kit_conn.execute("SELECT pgaudit_kit.disable_table('t', 'bulk fix, CHG-1')")
    kit_conn.execute("UPDATE t SET v = 'fixed' WHERE id = 1")
    kit_conn.execute("DELETE FROM t WHERE id = 2")
    enable(kit_conn, "t")
    kit_conn.execute("UPDATE t SET v = 'later' WHERE id = 3")
    assert_clean(kit_db, "t")


def test_option_and_shape_changes_are_not_mistaken_for_bypasses(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE p (id int PRIMARY KEY, email text, phone text, note text)")
    kit_conn.execute("CREATE TABLE q (email text, n int)")
    enable(kit_conn, "p", redact=["phone"])
    enable(kit_conn, "q")
    kit_conn.execute("INSERT INTO p VALUES (1, 'a@x', '555', 'n1'), (2, 'b@x', '556', 'n2'), (3, 'c@x', NULL, 'n3')")
    kit_conn.execute("INSERT INTO q VALUES ('a@x', 1), ('a@x', 1)")
    # redaction switched both ways, a column added, one dropped, one excluded
    enable(kit_conn, "p", redact=["email"], exclude=["note"], reason="phone is recorded in clear again")
    enable(kit_conn, "q", redact=["email"])
    kit_conn.execute("ALTER TABLE p ADD COLUMN added int DEFAULT 7")
    kit_conn.execute("ALTER TABLE q ADD COLUMN added int DEFAULT 7")
    kit_conn.execute("UPDATE p SET phone = '999' WHERE id = 2")
    kit_conn.execute("INSERT INTO q VALUES ('b@x', 2)")
    kit_conn.execute("DELETE FROM q WHERE ctid = (SELECT min(ctid) FROM q WHERE n = 1)")
    assert_clean(kit_db, "p", "q")
    with capture_bypassed(kit_conn, "p", "q") as conn:
        conn.execute("UPDATE p SET phone = '000' WHERE id = 2")  # recorded plain since the switch
        conn.execute("UPDATE q SET n = 5 WHERE n = 1")
    code, report = run(kit_db, "p", "q")
    assert (code, found(report)) == (1, {
        ("public.p", "changed", key(id=2)),
        ("public.q", "missing", key(n=1), 1),
        ("public.q", "unrecorded", key(n=5), 1),
    })


def test_key_swaps_shifts_and_chains_replay_right(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE k (id int PRIMARY KEY DEFERRABLE, v text)")
    enable(kit_conn, "k")
    kit_conn.execute("INSERT INTO k SELECT g, 'v' || g FROM generate_series(1, 6) g")
    kit_conn.execute("UPDATE k SET id = 3 - id WHERE id IN (1, 2)")  # swap in one statement
    kit_conn.execute("UPDATE k SET id = id + 1 WHERE id >= 3")  # shift onto each other's keys
    kit_conn.execute("DO $$ BEGIN UPDATE k SET id = 10 WHERE id = 7; UPDATE k SET id = 20 WHERE id = 10; END $$")
    kit_conn.execute("BEGIN; UPDATE k SET id = 30 WHERE id = 4; UPDATE k SET id = 4 WHERE id = 5; COMMIT")
    assert kit_conn.execute("SELECT array_agg(id || ':' || v ORDER BY id) FROM k").fetchone() == (
        ["1:v2", "2:v1", "4:v4", "6:v5", "20:v6", "30:v3"],)
    assert_clean(kit_db, "k")
    with capture_bypassed(kit_conn, "k") as conn:
        conn.execute("UPDATE k SET id = 40 WHERE id = 30")
    code, report = run(kit_db, "k")
    assert (code, found(report)) == (1, {("public.k", "missing", key(id=30)), ("public.k", "unrecorded", key(id=40))})


def test_rows_of_detached_and_dropped_partitions_are_not_missing(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE m (id int, month int, PRIMARY KEY (id, month)) PARTITION BY LIST (month)")
    kit_conn.execute("CREATE TABLE m1 PARTITION OF m FOR VALUES IN (1)")
    kit_conn.execute("CREATE TABLE m2 PARTITION OF m FOR VALUES IN (2)")
    kit_conn.execute("CREATE TABLE m3 PARTITION OF m FOR VALUES IN (3)")
    kit_conn.execute("CREATE TABLE bag (v int, month int) PARTITION BY LIST (month)")
    kit_conn.execute("CREATE TABLE bag1 PARTITION OF bag FOR VALUES IN (1)")
    kit_conn.execute("CREATE TABLE bag2 PARTITION OF bag FOR VALUES IN (2)")
    enable(kit_conn, "m")
    enable(kit_conn, "bag")
    kit_conn.execute("INSERT INTO m SELECT g, 1 + g % 3 FROM generate_series(1, 9) g")
    kit_conn.execute("INSERT INTO bag SELECT 1, 1 + g % 2 FROM generate_series(1, 4) g")
    kit_conn.execute("ALTER TABLE m DETACH PARTITION m1")
    kit_conn.execute("ALTER TABLE m DETACH PARTITION m2")
    kit_conn.execute("DROP TABLE m2")
    kit_conn.execute("ALTER TABLE bag DETACH PARTITION bag1")
    assert_clean(kit_db, "m", "bag")
    with capture_bypassed(kit_conn, "m") as conn:
        conn.execute("DELETE FROM m WHERE id = 5")
    code, report = run(kit_db, "m")
    assert (code, found(report)) == (1, {("public.m", "missing", key(id=5, month=3))})


# ---------------------------------------------------------------------------------------------------
# review, usage, privileges


def test_reconcile_is_recorded_as_a_review(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    kit_conn.execute('CREATE TABLE "T 2" (id int PRIMARY KEY)')
    enable(kit_conn, "t")
    enable(kit_conn, '"T 2"')
    assert_clean(kit_db, "T", '"T 2"')
    assert_clean(kit_db)
    reviews = kit_conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' ORDER BY id").fetchall()
    assert [r[0] for r in reviews] == [
        {"command": "reconcile", "filter": {"tables": ["public.t", 'public."T 2"']}},
        {"command": "reconcile", "filter": {"tables": ['public."T 2"', "public.t"]}},
    ]


def test_unknown_or_unenrolled_tables_exit_2_and_read_nothing(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE plain (id int)")
    kit_conn.execute("CREATE TABLE parted (id int) PARTITION BY RANGE (id)")
    kit_conn.execute("CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10)")
    kit_conn.execute("CREATE VIEW v AS SELECT 1 AS x")
    enable(kit_conn, "parted")
    for args, needle in ((["nope"], "table 'nope' does not exist"), (["plain"], "public.plain is not enrolled"),
                         (["parted", "parted_1"], "public.parted_1 is not enrolled; it is a partition: reconcile public.parted"),
                         (["v"], "not a table"), (["a.b.c.d"], "invalid table name")):
        result = cli("reconcile", *args, "--format", "json", dsn=kit_db)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stdout == ""
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'R'").fetchone() == (0,)


def test_no_enrolled_tables_is_clean(kit_db: str) -> None:
    result = cli("reconcile", dsn=kit_db)
    assert (result.exit_code, result.stdout) == (0, "0 tables, 0 live rows: clean\n")


@pytest.fixture
def login_role(cluster: Cluster) -> Iterator[str]:
    name = f"rc_{uuid.uuid4().hex[:10]}"
    with cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with cluster.admin() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_reader_reconciles_without_any_privilege_on_the_table(kit_conn: Conn, kit_db: str, login_role: str) -> None:
    kit_conn.execute("CREATE TABLE secrets (id int PRIMARY KEY, v text)")
    enable(kit_conn, "secrets")
    kit_conn.execute("INSERT INTO secrets VALUES (1, 'a'), (2, 'b')")
    with capture_bypassed(kit_conn, "secrets") as conn:
        conn.execute("UPDATE secrets SET v = 'c' WHERE id = 2")
    dsn = with_params(kit_db, user=login_role, password="pw")
    plain = cli("reconcile", dsn=dsn)
    assert plain.exit_code == 3 and "may not review audit history" in plain.stderr
    kit_conn.execute(sql.SQL("GRANT pgaudit_kit_reader TO {}").format(sql.Identifier(login_role)))
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM secrets")
    code, report = run(dsn, "secrets")
    assert (code, found(report)) == (1, {("public.secrets", "changed", key(id=2))})
    row = kit_conn.execute("SELECT t.session_role FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t"
                           " USING (xid) WHERE e.op = 'R'").fetchone()
    assert row == (login_role,)


# ---------------------------------------------------------------------------------------------------
# streaming


def test_large_table_streams_exact_problems_in_constant_memory(kit_conn: Conn, kit_db: str) -> None:
    """200,000 live rows, 20,000 of them bypass-updated plus a few single bypasses: every problem is
    reported, exactly, while the client holds no more than a batch of them at a time."""
    kit_conn.execute("CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL)")
    enable(kit_conn, "big")
    kit_conn.execute("INSERT INTO big SELECT g, g, repeat('x', 100) FROM generate_series(1, 200000) g")
    kit_conn.execute("UPDATE big SET v = -v WHERE id % 1000 = 0")
    with capture_bypassed(kit_conn, "big") as conn:
        conn.execute("UPDATE big SET v = v + 1 WHERE id BETWEEN 100001 AND 120000")
        conn.execute("DELETE FROM big WHERE id IN (7, 8)")
        conn.execute("INSERT INTO big VALUES (200001, 0, ''), (0, 0, '')")
    expected_unrecorded, expected_missing = {0, 200001}, {7, 8}

    with db.connect(kit_db) as conn:
        targets = reconciling.resolve_targets(conn, ["big"])
        tracemalloc.start()
        try:
            counts = {"changed": 0, "unrecorded": 0, "missing": 0}
            summaries = []
            for item in reconciling.reconcile(conn, targets):
                if isinstance(item, reconciling.TableChecked):
                    summaries.append(item)
                    continue
                assert item.pk is not None
                ident = int(item.pk["id"])
                if item.kind == "changed":
                    assert 100001 <= ident <= 120000 and item.differing_columns == ["v"], item
                else:
                    assert ident in (expected_unrecorded if item.kind == "unrecorded" else expected_missing), item
                counts[item.kind] += 1
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert counts == {"changed": 20000, "unrecorded": 2, "missing": 2}
    assert summaries == [reconciling.TableChecked("public.big", 200000, 20004)]
    # 20,004 problems held at once would take tens of MB; a batch of 2,000 takes a few
    assert peak < 12 * 1024 * 1024, f"peak client memory {peak / 1e6:.1f} MB: problems were not streamed"


# ---------------------------------------------------------------------------------------------------
# bypasses that a recorded write overwrote: the log's own images disagree


def _event_ids(conn: Conn, table: str) -> list[tuple[int, str, Any]]:
    """(id, op, pk) of the table's recorded row events, oldest first."""
    return [(int(i), str(op), pk) for i, op, pk in conn.execute(
        "SELECT id, op::text, pk FROM pgaudit_kit.recorded_event WHERE relid = %s::regclass "
        "AND op IN ('I','U','D','T')"
        " ORDER BY id", (table,))]


def overwritten(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The overwritten problems as (table, key, previous event, event, differences)."""
    return [(p["table"], json.dumps(p["pk"], sort_keys=True), p["previous_event_id"], p["event_id"],
             p["differences"]) for p in report["problems"] if p["problem"] == "overwritten"]


def test_bypass_overwritten_by_a_recorded_update_is_reported(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12, 2))")
    enable(kit_conn, "acct")
    kit_conn.execute("INSERT INTO acct VALUES (1, 'ada', 10), (2, 'bob', 20)")
    with capture_bypassed(kit_conn, "acct") as conn:
        conn.execute("UPDATE acct SET balance = 1000000, owner = 'mallory' WHERE id = 1")
    kit_conn.execute("UPDATE acct SET balance = 10, owner = 'ada' WHERE id = 1")  # covers the tracks, recorded
    (insert, _, _), _, (update, op, _) = _event_ids(kit_conn, "acct")
    assert op == "U"
    code, report = run(kit_db, "acct")
    # the live row is its newest recorded image: only the log's own images show the bypass
    assert code == 1 and [p["problem"] for p in report["problems"]] == ["overwritten"]
    assert overwritten(report) == [("public.acct", key(id=1), insert, update, [
        {"column": "owner", "expected": "ada", "found": "mallory"},
        {"column": "balance", "expected": "10.00", "found": "1000000.00"}])]
    (problem,) = report["problems"]
    assert problem["columns"] == ["owner", "balance"] and problem["live"] is None
    assert problem["recorded"] == {"id": "1", "owner": "ada", "balance": "10.00"}
    assert problem["before"] == {"id": "1", "owner": "mallory", "balance": "1000000.00"}
    assert report["tables"] == [{"table": "public.acct", "rows_compared": 2, "problems": 1}]
    text = cli("reconcile", "acct", dsn=kit_db)
    assert text.exit_code == 1
    assert text.stdout.splitlines() == [
        f'public.acct: overwritten {{"id": "1"}}: columns owner "ada" -> "mallory", balance "10.00" -> '
        f'"1000000.00" between event {insert} and event {update}, with no recorded write in between',
        "public.acct: 2 live rows compared, 1 problem",
        "1 table, 2 live rows: 1 problem (writes that bypassed capture)",
    ]


def test_bypass_overwritten_by_a_recorded_delete_is_reported(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE acct (id int PRIMARY KEY, owner text, note text)")
    enable(kit_conn, "acct")
    kit_conn.execute("INSERT INTO acct VALUES (1, 'ada', NULL), (2, 'bob', 'x'), (3, 'cy', NULL)")
    kit_conn.execute("DELETE FROM acct WHERE id = 3")
    with capture_bypassed(kit_conn, "acct") as conn:
        conn.execute("UPDATE acct SET note = 'paid' WHERE id = 1")
        conn.execute("INSERT INTO acct VALUES (3, 'cy', 'back')")  # the log has it deleted
    kit_conn.execute("DELETE FROM acct WHERE id IN (1, 3)")
    written = [(op, pk["id"], i) for i, op, pk in _event_ids(kit_conn, "acct")]
    inserted_1 = next(i for op, k, i in written if (op, k) == ("I", "1"))
    deleted_1 = next(i for op, k, i in written if (op, k) == ("D", "1"))
    deleted_3, deleted_3_again = (i for op, k, i in written if (op, k) == ("D", "3"))
    code, report = run(kit_db, "acct")
    assert code == 1 and {p["problem"] for p in report["problems"]} == {"overwritten"}
    assert overwritten(report) == [
        ("public.acct", key(id=1), inserted_1, deleted_1, [{"column": "note", "expected": None, "found": "paid"}]),
        ("public.acct", key(id=3), deleted_3, deleted_3_again,
         [{"column": "id", "found": "3"}, {"column": "note", "found": "back"}, {"column": "owner", "found": "cy"}]),
    ]
    assert report["problems"][1]["recorded"] is None
    lines = cli("reconcile", "acct", dsn=kit_db).stdout.splitlines()
    assert lines[:2] == [
        f'public.acct: overwritten {{"id": "1"}}: column note null -> "paid" between event {inserted_1} and event '
        f"{deleted_1}, with no recorded write in between",
        f'public.acct: overwritten {{"id": "3"}}: event {deleted_3} recorded its removal, but event '
        f"{deleted_3_again} found the row: written back with no recorded write in between",
    ]


def test_consecutive_recorded_writes_replay_clean(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, v text, n int)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t SELECT g, 'v' || g, g FROM generate_series(1, 6) g")
    kit_conn.execute("UPDATE t SET n = n + 1")
    kit_conn.execute("UPDATE t SET v = v WHERE id = 1")  # changes nothing
    kit_conn.execute("BEGIN; UPDATE t SET n = 0 WHERE id = 2; UPDATE t SET v = 'w' WHERE id = 2;"
                     " DELETE FROM t WHERE id = 3; COMMIT")
    kit_conn.execute("UPDATE t SET id = 7 - id WHERE id IN (1, 6)")  # a swap in one statement
    kit_conn.execute("UPDATE t SET id = id + 1 WHERE id >= 4")  # a shift onto each other's keys
    kit_conn.execute("UPDATE t SET id = 30 WHERE id = 2; UPDATE t SET v = 'x' WHERE id = 30")
    kit_conn.execute("UPDATE t SET n = 9 WHERE id = 30")
    assert_clean(kit_db, "t")


def test_deleted_and_reinserted_keys_replay_clean(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    kit_conn.execute("DELETE FROM t WHERE id = 1")
    kit_conn.execute("INSERT INTO t VALUES (1, 'other')")
    kit_conn.execute("UPDATE t SET v = 'again' WHERE id = 1")
    kit_conn.execute("BEGIN; DELETE FROM t WHERE id = 2; INSERT INTO t VALUES (2, 'new'); COMMIT")
    kit_conn.execute("DELETE FROM t")
    assert_clean(kit_db, "t")


def test_truncated_rows_replay_clean(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    kit_conn.execute("UPDATE t SET v = 'b2' WHERE id = 2")
    kit_conn.execute("TRUNCATE t")
    kit_conn.execute("INSERT INTO t VALUES (2, 'c')")
    kit_conn.execute("UPDATE t SET v = 'c2' WHERE id = 2")
    kit_conn.execute("TRUNCATE t")
    assert [op for _, op, _ in _event_ids(kit_conn, "t")].count("T") == 3
    assert_clean(kit_db, "t")


def test_redacted_and_excluded_columns_replay_clean(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, secret text, blob bytea, v int)")
    enable(kit_conn, "t", redact=["secret"], exclude=["blob"])
    kit_conn.execute("INSERT INTO t VALUES (1, 'pin', '\\x01', 1), (2, NULL, NULL, 2)")
    kit_conn.execute("UPDATE t SET blob = '\\x02' WHERE id = 1")  # excluded only
    kit_conn.execute("UPDATE t SET secret = 'pin2', v = 3 WHERE id = 1")
    kit_conn.execute("UPDATE t SET secret = 'new' WHERE id = 2")
    kit_conn.execute("DELETE FROM t WHERE id = 1")
    assert_clean(kit_db, "t")


def test_schema_and_option_changes_between_writes_replay_clean(kit_conn: Conn, kit_db: str) -> None:
    """Rows rewritten by DDL (a column added with a default, dropped, renamed, retyped) or recorded in
    another form since an option change: the images on either side differ, and the event between explains it."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a text, b int, c numeric(8, 2), d text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t SELECT g, 'a', g, 1.5, 'd' FROM generate_series(1, 6) g")
    kit_conn.execute("ALTER TABLE t ADD COLUMN added int DEFAULT 7")
    kit_conn.execute("UPDATE t SET b = 10 WHERE id = 1")
    kit_conn.execute("ALTER TABLE t DROP COLUMN d")
    kit_conn.execute("UPDATE t SET b = 20 WHERE id = 2")
    kit_conn.execute("ALTER TABLE t RENAME COLUMN a TO a2")
    kit_conn.execute("UPDATE t SET b = 30 WHERE id = 3")
    kit_conn.execute("ALTER TABLE t ALTER COLUMN c TYPE numeric(8, 3)")  # 1.50 reads 1.500 now
    kit_conn.execute("UPDATE t SET b = 40 WHERE id = 4")
    kit_conn.execute("ALTER TABLE t ALTER COLUMN b TYPE text USING 'b' || b")
    kit_conn.execute("DELETE FROM t WHERE id = 5")
    enable(kit_conn, "t", redact=["a2"])  # recorded as a digest from now on
    kit_conn.execute("UPDATE t SET c = 0 WHERE id = 6")
    kit_conn.execute("UPDATE t SET c = 1 WHERE id IN (1, 6)")
    kit_conn.execute("UPDATE t SET c = c + 0")  # every row again: the live rows are explained (see changed)
    assert_clean(kit_db, "t")


def test_rows_that_predate_enrolment_replay_clean(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    enable(kit_conn, "t")
    kit_conn.execute("UPDATE t SET v = 'a2' WHERE id = 1")  # the first recorded event of its key
    kit_conn.execute("DELETE FROM t WHERE id = 2")
    kit_conn.execute("TRUNCATE t")
    assert_clean(kit_db, "t")


def test_a_schema_change_between_hides_an_overwritten_bypass(kit_conn: Conn, kit_db: str) -> None:
    """The documented limit: recorded DDL between the two writes ends the comparison."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a')")
    with capture_bypassed(kit_conn, "t") as conn:
        conn.execute("UPDATE t SET v = 'forged' WHERE id = 1")
    kit_conn.execute("COMMENT ON TABLE t IS 'recorded as DDL'")
    kit_conn.execute("UPDATE t SET v = 'a' WHERE id = 1")
    assert_clean(kit_db, "t")


@pytest.mark.parametrize("rewrite", [
    pytest.param("ALTER TABLE old_rows ALTER COLUMN n TYPE bigint", id="column-type-widened"),
    pytest.param("ALTER TABLE old_rows ADD COLUMN twice int GENERATED ALWAYS AS (n * 2) STORED", id="stored-generated"),
])
def test_rows_rewritten_by_recorded_ddl_still_predate_enrolment(kit_conn: Conn, kit_db: str, rewrite: str) -> None:
    """Issue 14, false alarm: a table rewrite gives every row the DDL transaction's xmin, which made each row
    older than the enrolment look written since, unrecorded. The DDL is recorded: its rewrite explains them.
    A write that bypasses capture after it is still caught."""
    kit_conn.execute("CREATE TABLE old_rows (id int PRIMARY KEY, n int)")
    kit_conn.execute("INSERT INTO old_rows SELECT g, g FROM generate_series(1, 5) g")
    enable(kit_conn, "old_rows")
    kit_conn.execute("UPDATE old_rows SET n = 20 WHERE id = 2")
    assert_clean(kit_db, "old_rows")
    kit_conn.execute(rewrite)
    assert kit_conn.execute("SELECT count(DISTINCT xmin::text) FROM old_rows").fetchone() == (1,)  # all rewritten
    assert_clean(kit_db, "old_rows")
    with capture_bypassed(kit_conn, "old_rows") as conn:
        conn.execute("INSERT INTO old_rows (id, n) VALUES (9, 9)")
    code, report = run(kit_db, "old_rows")
    assert (code, found(report)) == (1, {("public.old_rows", "unrecorded", key(id=9))})


def test_reconcile_shows_the_table_it_compares_on_a_terminal(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a')")
    done, terminal = run_with_stderr_on_a_terminal("--dsn", kit_db, "reconcile")
    assert done.returncode == 0, terminal
    assert "reconciling public.t (table 1 of 1; 0 live rows compared so far)" in terminal
    assert done.stdout.splitlines()[-1] == "1 table, 1 live row: clean"
