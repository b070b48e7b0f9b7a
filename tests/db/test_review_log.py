"""`pgaudit-kit log` and `tx` against real recorded history: every filter alone and in combination gives
exactly the events a plain SQL query over the kit's tables gives; pages join up without gaps or repeats;
json, jsonl and csv carry the same values; hostile input gives exact results or exit 2; each query is
recorded as a review event; reviewing needs the reader or admin role."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgaudit_kit.review.timeparse import format_time
from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable, with_params
from tests.support.review import (
    HOSTILE_ACTOR,
    WEIRD_KEY,
    WEIRD_SCHEMA,
    WEIRD_TABLE,
    History,
    csv_events,
    history_database,
    ids_where,
    jsonl,
    log_ids,
)


@pytest.fixture(scope="module")
def hist(cluster: Cluster) -> Iterator[History]:
    with history_database(cluster) as history:
        yield history


def first_ts(hist: History, tx: str) -> datetime:
    with psycopg.connect(hist.dsn) as conn:
        row = conn.execute("SELECT min(statement_ts) FROM pgaudit_kit.event WHERE xid = %s::text::xid8",
                           (str(hist.xids[tx]),)).fetchone()
        assert row is not None and row[0] is not None
        return row[0]  # type: ignore[no-any-return]


Case = Callable[[History], tuple[list[str], str, tuple[Any, ...]]]
NOT_R = "e.op <> 'R'"
CASES: dict[str, Case] = {
    "everything": lambda h: ([], NOT_R, ()),
    "table": lambda h: (["--table", "public.orders"], f"{NOT_R} AND e.relid = %s", (h.relids["orders"],)),
    "table via search_path": lambda h: (["--table", "orders"], f"{NOT_R} AND e.relid = %s", (h.relids["orders"],)),
    "two tables": lambda h: (["--table", "public.orders", "--table", "public.lines"],
                             f"{NOT_R} AND e.relid IN (%s, %s)", (h.relids["orders"], h.relids["lines"])),
    "schema.*": lambda h: (["--table", "public.*"], f"{NOT_R} AND e.relid IN (SELECT relid FROM pgaudit_kit.event "
                                                    "WHERE schema_name = 'public')", ()),
    "op": lambda h: (["--op", "U"], "e.op = 'U'", ()),
    "ops": lambda h: (["--op", "insert,D", "--op", "t"], "e.op IN ('I', 'D', 'T')", ()),
    "ddl": lambda h: (["--op", "S"], "e.op = 'S'", ()),
    "reviews": lambda h: (["--op", "R"], "e.op = 'R'", ()),
    "all ops": lambda h: (["--op", "all"], "true", ()),
    "actor": lambda h: (["--actor", "alice"], f"{NOT_R} AND t.actor = 'alice'", ()),
    "acting role": lambda h: (["--actor", h.app_role], f"{NOT_R} AND t.acting_role = %s", (h.app_role,)),
    "login role": lambda h: (["--actor", "postgres"], f"{NOT_R} AND t.session_role = 'postgres'", ()),
    "two actors": lambda h: (["--actor", "alice", "--actor", "bob"], f"{NOT_R} AND t.actor IN ('alice', 'bob')", ()),
    "hostile actor": lambda h: (["--actor", HOSTILE_ACTOR], f"{NOT_R} AND t.actor = %s", (HOSTILE_ACTOR,)),
    "tx": lambda h: (["--tx", str(h.xids["c"])], f"{NOT_R} AND e.xid = %s::text::xid8", (str(h.xids["c"]),)),
    "two txs": lambda h: (["--tx", str(h.xids["a"]), "--tx", str(h.xids["e"])],
                          f"{NOT_R} AND e.xid IN (%s::text::xid8, %s::text::xid8)", (str(h.xids["a"]), str(h.xids["e"]))),
    "changed": lambda h: (["--changed", "status"], "e.op = 'U' AND e.old_values ? 'status'", ()),
    "changed any": lambda h: (["--changed", "price", "--changed", "note"],
                              "e.op = 'U' AND (e.old_values ? 'price' OR e.old_values ? 'note')", ()),
    "context": lambda h: (["--context", "request_id=r-1"], f"{NOT_R} AND t.context->>'request_id' = 'r-1'", ()),
    "context number or string": lambda h: (["--context", "attempt=2"],
                                           f"{NOT_R} AND t.context->'attempt' IN ('2', '\"2\"')", ()),
    "two contexts": lambda h: (["--context", "request_id=r-1", "--context", "attempt=2"],
                               f"{NOT_R} AND t.context->>'request_id' = 'r-1' AND t.context->>'attempt' = '2'", ()),
    "pk": lambda h: (["--table", "public.orders", "--pk", "1"],
                     f"{NOT_R} AND e.relid = %s AND e.pk = '{{\"id\": \"1\"}}'", (h.relids["orders"],)),
    "composite pk": lambda h: (["--table", "public.lines", "--pk", '{"order_id": 1, "line": 2}'],
                               f"{NOT_R} AND e.relid = %s AND e.pk->>'order_id' = '1' AND e.pk->>'line' = '2'",
                               (h.relids["lines"],)),
    "hostile table and key": lambda h: (
        ["--table", sql.Identifier(WEIRD_SCHEMA, WEIRD_TABLE).as_string(None), "--pk", WEIRD_KEY],
        f"{NOT_R} AND e.table_name = %s AND e.pk->>'k' = %s", (WEIRD_TABLE, WEIRD_KEY)),
    "window": lambda h: (["--since", format_time(first_ts(h, "c")) or "", "--until", format_time(first_ts(h, "g")) or ""],
                         f"{NOT_R} AND e.statement_ts >= %s AND e.statement_ts < %s", (first_ts(h, "c"), first_ts(h, "g"))),
    "since relative": lambda h: (["--since", "1h"], NOT_R, ()),
    "since now": lambda h: (["--since", "0s"], "false", ()),
    "until now": lambda h: (["--until", "0s"], NOT_R, ()),
    "table actor op": lambda h: (["--table", "public.orders", "--actor", "alice", "--op", "U"],
                                 "e.op = 'U' AND e.relid = %s AND t.actor = 'alice'", (h.relids["orders"],)),
    "actor changed": lambda h: (["--actor", "bob", "--changed", "status"],
                                "e.op = 'U' AND e.old_values ? 'status' AND t.actor = 'bob'", ()),
    "context table": lambda h: (["--context", "request_id=r-1", "--table", "public.lines"],
                                f"{NOT_R} AND t.context->>'request_id' = 'r-1' AND e.relid = %s", (h.relids["lines"],)),
    "schema ops actor since": lambda h: (
        ["--table", "public.*", "--op", "I,U", "--actor", "alice", "--since", "1d"],
        "e.op IN ('I', 'U') AND t.actor = 'alice' AND e.relid IN (SELECT relid FROM pgaudit_kit.event "
        "WHERE schema_name = 'public')", ()),
    "pk op window": lambda h: (["--table", "orders", "--pk", "1", "--op", "U", "--until", format_time(first_ts(h, "g")) or ""],
                               "e.op = 'U' AND e.relid = %s AND e.pk = '{\"id\": \"1\"}' AND e.statement_ts < %s",
                               (h.relids["orders"], first_ts(h, "g"))),
    "nothing matches": lambda h: (["--actor", "nobody-at-all", "--table", "public.orders"], "false", ()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_filters_give_exactly_what_sql_gives(hist: History, case: str) -> None:
    args, where, params = CASES[case](hist)
    got = log_ids(*args, dsn=hist.dsn)
    expected = ids_where(hist.dsn, where, params)
    assert got == expected
    if case not in ("since now", "nothing matches"):
        assert got, f"case {case} should match something, or it proves little"


def test_renamed_and_dropped_tables_keep_their_history(hist: History) -> None:
    renamed = ids_where(hist.dsn, f"{NOT_R} AND e.relid = %s", (hist.relids["renamed_from"],))
    assert log_ids("--table", "public.renamed_to", dsn=hist.dsn) == renamed
    assert log_ids("--table", "public.renamed_from", dsn=hist.dsn) == renamed  # the name it was enrolled under
    names = {e["table"] for e in jsonl("log", "--table", "renamed_to", "--op", "I,U", dsn=hist.dsn)}
    assert names == {"renamed_from", "renamed_to"}  # each event shows the name the table had then
    gone = ids_where(hist.dsn, f"{NOT_R} AND e.relid = %s", (hist.relids["gone"],))
    assert gone and log_ids("--table", "public.gone", dsn=hist.dsn) == gone
    assert {e["op"] for e in jsonl("log", "--table", "public.gone", dsn=hist.dsn)} >= {"I", "K"}


def test_tables_without_history_and_bad_names_are_usage_errors(hist: History) -> None:
    assert log_ids("--table", "public.unaudited", dsn=hist.dsn) == []  # exists: an exact, empty answer
    for name in ("public.no_such_table", "nosuch.*", "a.b.c", "'; DROP TABLE public.orders; --", "\"unclosed",
                 "", ".*", "public.orders.*"):
        result = cli("log", "--table", name, dsn=hist.dsn)
        assert result.exit_code == 2, (name, result.stdout, result.stderr)
        assert result.stderr.startswith("pgaudit-kit: error: --table")
    with psycopg.connect(hist.dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.orders') IS NOT NULL").fetchone() == (True,)


def test_pages_join_up_exactly(hist: History) -> None:
    until = format_time(datetime.now().astimezone()) or ""  # reviews recorded by the pages come after it
    everything = log_ids("--op", "all", "--until", until, dsn=hist.dsn)
    assert len(everything) > 20
    for order, expected in (("newest", everything[::-1]), ("oldest", everything)):
        seen: list[int] = []
        cursor: str | None = None
        while True:
            args = ["log", "--op", "all", "--until", until, "--limit", "7", "--format", "json"]
            args += ["--cursor", cursor] if cursor else ["--order", order]
            result = cli(*args, dsn=hist.dsn)
            assert result.exit_code == 0, result.stderr
            page = json.loads(result.stdout)
            assert 0 < len(page["events"]) <= 7
            seen += [e["id"] for e in page["events"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert cursor == f"{order}:{page['events'][-1]['id']}"
        assert seen == expected


def test_cursor_is_printed_for_every_format(hist: History) -> None:
    table = cli("log", "--limit", "2", dsn=hist.dsn)
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() [:3] == ["ID", "TIME", "(UTC)"] and len(lines) == 4
    assert "next page: --cursor newest:" in lines[-1] and lines[-1].startswith("(2 events")
    for fmt in ("jsonl", "csv"):
        result = cli("log", "--limit", "2", "--format", fmt, dsn=hist.dsn)
        assert "pgaudit-kit: more events: --cursor newest:" in result.stderr
    last = cli("log", "--limit", "0", "--format", "jsonl", dsn=hist.dsn)
    assert last.stderr == ""
    mismatch = cli("log", "--order", "oldest", "--cursor", "newest:5", dsn=hist.dsn)
    assert mismatch.exit_code == 2


def test_json_jsonl_and_csv_carry_the_same_values(hist: History) -> None:
    assert cli("seal", dsn=hist.dsn).exit_code == 0  # so that no later commit changes a seal status between calls
    args = ["log", "--op", "all", "--until", format_time(datetime.now().astimezone()) or "", "--limit", "0"]
    document = cli(*args, "--format", "json", dsn=hist.dsn)
    lines = cli(*args, "--format", "jsonl", dsn=hist.dsn)
    table = cli(*args, "--format", "csv", dsn=hist.dsn)
    assert document.exit_code == lines.exit_code == table.exit_code == 0
    from_json = json.loads(document.stdout)["events"]
    from_jsonl = [json.loads(line) for line in lines.stdout.splitlines()]
    from_csv = csv_events(table.stdout)
    assert from_json == from_jsonl == from_csv
    by_tx = {e["xid"]: e for e in from_json}
    hostile = by_tx[hist.xids["d"]]
    assert hostile["actor"] == HOSTILE_ACTOR and hostile["context"] is None and hostile["context_raw"] == "not json {"
    assert hostile["acting_role"] == hist.app_role and hostile["session_role"] == "postgres"
    update = next(e for e in from_json if e["xid"] == hist.xids["b"])
    assert update["old"]["status"] == "new" and update["new"]["status"] == "paid" and update["changed"] == ["status"]
    assert update["context"] == {"request_id": "r-1"} and update["pk"] == {"id": "1"}
    truncated = [e for e in from_json if e["xid"] == hist.xids["e"]]
    assert {e["op"] for e in truncated} == {"T"} and all(e["new"] is None and e["old"] for e in truncated)
    assert all(e["time"].endswith("Z") for e in from_json)


def test_exact_numbers_in_context_survive_every_format(kit_conn: psycopg.Connection[Any], kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    with kit_conn.transaction():
        kit_conn.execute("SELECT set_config('pgaudit_kit.context', '{\"amount\": 1.10, \"big\": 12345678901234567890}', true)")
        kit_conn.execute("INSERT INTO t VALUES (1)")
    result = cli("log", "--op", "I", "--format", "jsonl", dsn=kit_db)
    assert '"context": {"big": 12345678901234567890, "amount": 1.10}' in result.stdout
    assert cli("log", "--context", "amount=1.1", "--format", "jsonl", dsn=kit_db).stdout.count("\n") == 1


def test_table_format_escapes_control_characters(kit_conn: psycopg.Connection[Any], kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a')")
    kit_conn.execute("UPDATE t SET v = E'\\x1b[2J\\x1b]0;owned\\x07\\nfake line' WHERE id = 1")
    result = cli("log", "--op", "U", dsn=kit_db)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "v: a → \\x1b[2J\\x1b]0;owned\\x07\\nfake line" in result.stdout
    assert len(result.stdout.splitlines()) == 3  # header, one event, summary


HUGE = "x" * 1_000_000


@pytest.mark.parametrize("args", [
    ["--actor", HUGE], ["--table", "public.orders", "--pk", HUGE], ["--context", "request_id=" + HUGE],
    ["--changed", HUGE], ["--context", HUGE + "=1"], ["--actor", "a'b\"c;\\d%s%%{}$1 ü"], ["--changed", "a'b"],
    ["--context", "k'\"\\=v;--"], ["--table", "public.orders", "--pk", '{"id": "1\'; --"}'],
    ["--table", "public.orders", "--pk", '{"nope": 1}'],
])
def test_hostile_values_give_exact_empty_results(hist: History, args: list[str]) -> None:
    result = cli("log", *args, "--format", "jsonl", dsn=hist.dsn)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [
    ["--since", "yesterday"], ["--until", "2026-02-30"], ["--since", HUGE], ["--since", "-1h"], ["--since", "1e9d"],
    ["--tx", "abc"], ["--tx", "-1"], ["--tx", "99999999999999999999"], ["--tx", HUGE], ["--op", "X"],
    ["--op", "I;D"], ["--limit", "-1"], ["--limit", "many"], ["--cursor", "newest:x"], ["--cursor", HUGE],
    ["--format", "xml"], ["--order", "random"], ["--pk", "1"], ["--table", "public.lines", "--pk", "1"],
    ["--context", "novalue"], ["--actor", "nul\x00byte"], ["--table", HUGE],
    ["--table", "public.orders\x00"], ["--actor", "bad\udcff"],
])
def test_bad_input_is_a_usage_error(hist: History, args: list[str]) -> None:
    result = cli("log", *args, dsn=hist.dsn)
    assert result.exit_code == 2, (args[:2], result.stdout[:200], result.stderr[:300])
    assert result.stderr.count("\n") <= 5 and len(result.stderr) < 2000
    assert result.stdout == ""


def test_each_query_is_recorded_as_a_review_event(hist: History) -> None:
    result = cli("log", "--table", "public.orders", "--actor", "alice", "--since", "2h", "--context", "request_id=r-1",
                 "--limit", "5", dsn=hist.dsn)
    assert result.exit_code == 0
    with psycopg.connect(hist.dsn) as conn:
        row = conn.execute("SELECT e.row_data, t.session_role FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t "
                           "ON t.xid = e.xid WHERE e.op = 'R' ORDER BY e.id DESC LIMIT 1").fetchone()
    assert row is not None
    assert row[0] == {"command": "log", "filter": {"table": ["public.orders"], "actor": ["alice"], "since": "2h",
                                                   "context": ["request_id=r-1"], "order": "newest", "limit": 5}}
    assert row[1] == "postgres"
    reviews = jsonl("log", "--op", "R", "--limit", "1", dsn=hist.dsn)
    assert reviews[0]["details"]["command"] == "log" and reviews[0]["details"]["filter"]["op"] == "R"


def test_tx_shows_everything_one_transaction_did(hist: History) -> None:
    xid = hist.xids["c"]
    document = json.loads(cli("tx", str(xid), "--format", "json", dsn=hist.dsn).stdout)
    assert document["transaction"]["xid"] == xid and document["transaction"]["actor"] == "alice"
    assert document["transaction"]["context"] == {"request_id": "r-2", "attempt": "2"}
    assert [e["id"] for e in document["events"]] == ids_where(hist.dsn, "e.xid = %s::text::xid8", (str(xid),))
    assert {(e["op"], e["table"]) for e in document["events"]} == {("U", "orders"), ("D", "lines")}
    text = cli("tx", str(xid), dsn=hist.dsn)
    assert text.exit_code == 0
    assert f"transaction {xid}, started" in text.stdout and "alice (postgres)" in text.stdout
    assert '"request_id": "r-2"' in text.stdout and text.stdout.rstrip().endswith("(2 events)")
    roles = json.loads(cli("tx", str(hist.xids["b"]), "--format", "json", dsn=hist.dsn).stdout)["transaction"]
    assert roles["acting_role"] == hist.app_role and roles["session_role"] == "postgres" and roles["actor"] == "bob"
    for fmt in ("jsonl", "csv"):
        assert cli("tx", str(xid), "--format", fmt, dsn=hist.dsn).exit_code == 0
    unknown = cli("tx", "123456789", "--format", "json", dsn=hist.dsn)
    assert unknown.exit_code == 0 and json.loads(unknown.stdout) == {"transaction": None, "events": [],
                                                                    "next_cursor": None}
    assert cli("tx", "12; DROP TABLE x", dsn=hist.dsn).exit_code == 2


def test_context_correlates_a_request_across_transactions(hist: History) -> None:
    events = jsonl("log", "--context", "request_id=r-1", "--order", "oldest", dsn=hist.dsn)
    assert {e["xid"] for e in events} == {hist.xids["a"], hist.xids["b"]}
    assert [e["actor"] for e in events] == ["alice"] * 4 + ["bob"]


def test_seal_status_pending_then_sealed_at_its_seq(kit_conn: psycopg.Connection[Any], kit_db: str,
                                                    cluster: Cluster) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    assert cli("seal", dsn=kit_db).exit_code == 0
    with psycopg.connect(kit_db) as holder:  # an open transaction with an xid holds the sealing horizon
        holder.execute("SELECT pg_current_xact_id()")
        kit_conn.execute("INSERT INTO t VALUES (1), (2)")
        assert cli("seal", dsn=kit_db).exit_code == 0
        pending = jsonl("log", "--table", "t", "--op", "I", dsn=kit_db)
        assert [e["seal"] for e in pending] == [{"status": "pending"}, {"status": "pending"}]
        assert "pending" in cli("log", "--table", "t", "--op", "I", dsn=kit_db).stdout
    assert cli("seal", dsn=kit_db).exit_code == 0
    sealed = jsonl("log", "--table", "t", "--op", "I", dsn=kit_db)
    with psycopg.connect(kit_db) as conn:
        truth: dict[int, int] = dict(conn.execute(
            "SELECT e.id, b.first_seq + array_position(b.event_ids, e.id) - 1 FROM pgaudit_kit.event e "
            "JOIN pgaudit_kit.block b ON e.id = ANY (b.event_ids) WHERE e.relid = 't'::regclass AND e.op = 'I'").fetchall())
        blocks: dict[int, int] = dict(conn.execute("SELECT e.id, b.block_no FROM pgaudit_kit.event e JOIN pgaudit_kit.block b "
                                   "ON e.id = ANY (b.event_ids) WHERE e.relid = 't'::regclass").fetchall())
    assert len(sealed) == 2
    for event in sealed:
        assert event["seal"] == {"status": "sealed", "seq": truth[event["id"]], "block": blocks[event["id"]]}
    assert f"seq {truth[sealed[0]['id']]}" in cli("log", "--table", "t", "--op", "I", dsn=kit_db).stdout


def test_event_outside_the_sealed_log_is_shown_as_such(kit_conn: psycopg.Connection[Any], kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    with kit_conn.transaction():
        kit_conn.execute("INSERT INTO t VALUES (1)")
        xid = kit_conn.execute("SELECT pg_current_xact_id()::text").fetchone()
    assert cli("seal", dsn=kit_db).exit_code == 0
    assert xid is not None
    # a superuser appends an event to a transaction that is already sealed: sealing never takes it
    kit_conn.execute("INSERT INTO pgaudit_kit.event (xid, statement_ts, op, relid, schema_name, table_name, pk, "
                     "row_data) VALUES (%s::xid8, now(), 'I', 't'::regclass, 'public', 't', '{\"id\": \"9\"}', "
                     "'{\"id\": \"9\"}')", (xid[0],))
    assert cli("seal", dsn=kit_db).exit_code == 0
    statuses = {e["pk"]["id"]: e["seal"]["status"] for e in jsonl("log", "--table", "t", "--op", "I", dsn=kit_db)}
    assert statuses == {"1": "sealed", "9": "not_in_log"}


@pytest.fixture
def login_roles(cluster: Cluster, kit_db: str) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    names = {"reader": f"review_reader_{suffix}", "admin": f"review_admin_{suffix}", "plain": f"review_plain_{suffix}"}
    with cluster.admin() as admin:
        for kind, name in names.items():
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(name)))
            if kind != "plain":
                admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(f"pgaudit_kit_{kind}"),
                                                              sql.Identifier(name)))
    try:
        yield {kind: with_params(kit_db, user=name, password="pw") for kind, name in names.items()}
    finally:
        with cluster.admin() as admin:
            for name in names.values():
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_reader_and_admin_may_review_others_may_not(kit_conn: psycopg.Connection[Any], login_roles: dict[str, str]) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t VALUES (1, 'a')")
    row = kit_conn.execute("SELECT xid::text FROM pgaudit_kit.event WHERE op = 'I'").fetchone()
    assert row is not None
    commands = [["log", "--table", "public.t"], ["history", "public.t", "1"], ["tx", row[0]],
                ["log", "--context", "request_id=x"]]
    for kind in ("reader", "admin"):
        for args in commands:
            result = cli(*args, dsn=login_roles[kind])
            assert result.exit_code == 0, (kind, args, result.stderr)
    for args in [*commands, ["watch", "--limit", "1"]]:
        result = cli(*args, dsn=login_roles["plain"])
        assert result.exit_code == 3, (args, result.stderr)
        assert "may not review audit history" in result.stderr and result.stderr.count("\n") == 1
    reviewers = kit_conn.execute("SELECT DISTINCT t.session_role FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t "
                                 "ON t.xid = e.xid WHERE e.op = 'R'").fetchall()
    assert {r[0] for r in reviewers} == {psycopg.conninfo.conninfo_to_dict(login_roles[k])["user"]
                                         for k in ("reader", "admin")}


def test_partitioned_table_history_is_under_the_partitioned_table(kit_conn: psycopg.Connection[Any],
                                                                  kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
                     "CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    enable(kit_conn, "m")
    kit_conn.execute("INSERT INTO m VALUES (1, '2026-05-01')")
    events = jsonl("log", "--table", "public.m", "--op", "I", dsn=kit_db)
    assert [(e["table"], e["partition"], e["pk"]) for e in events] == [("m", "public.m_2026", {"id": "1", "at": "2026-05-01"})]
    result = cli("log", "--table", "public.m_2026", dsn=kit_db)
    assert result.exit_code == 2 and "is a partition of public.m" in result.stderr
    assert json.loads(cli("history", "m", '{"id": 1, "at": "2026-05-01"}', "--format", "json",
                          dsn=kit_db).stdout)["events"][0]["partition"] == "public.m_2026"
