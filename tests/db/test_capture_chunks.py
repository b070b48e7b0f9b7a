"""Statements of many rows, recorded as chunks (pgaudit_kit.event_chunk) and expanded into events when sealed:
the same events row capture writes, in the order of the transaction's statements, visible to review before
they are sealed, sealed a bounded number at a time, and never ahead of a transaction still running."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.support import reference_agreement
from tests.support.helpers import cli, events

Conn = psycopg.Connection[Any]

# every kind of value a chunk must carry exactly: NULLs, blank-padded char, numeric scale, bytea, json, arrays,
# a redacted column, a column left out, and a key of two columns
COLUMNS = ("k1 int, k2 text, c char(4), n numeric, b bytea, j jsonb, a int[], ts timestamptz, secret text, "
           "skipped text, PRIMARY KEY (k1, k2)")
ROWS = """SELECT g, 'k' || (g %% 3), CASE WHEN g %% 5 = 0 THEN NULL ELSE 'c' END, g / 7.0, decode(md5(g::text), 'hex'),
                 jsonb_build_object('g', g, 'odd', g %% 2 = 1), ARRAY[g, NULL, -g],
                 '2026-12-06 10:00:00+00'::timestamptz + g * interval '1 second',
                 CASE WHEN g %% 4 = 0 THEN NULL ELSE 'pw' || (g %% 3) END, 'x'
            FROM generate_series(%s::int, %s::int) g"""


def _pair(conn: Conn) -> None:
    """Twin tables: `chunked` in statement mode (chunks from 32 rows on), `by_row` in row mode (one event each)."""
    for table, mode in (("chunked", "statement"), ("by_row", "row")):
        conn.execute(f"CREATE TABLE {table} ({COLUMNS})")
        conn.execute("SELECT pgaudit_kit.enable_table(%s::regclass, '{skipped}', '{secret}', 'capture', false, %s)",
                     (table, mode))


def _write(conn: Conn, table: str) -> None:
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} " + ROWS, (1, 2500))  # three chunks
        conn.execute(f"UPDATE {table} SET n = n + 1, secret = 'pw' WHERE k1 <= 40")  # one chunk; secret changes or not
        conn.execute(f"UPDATE {table} SET c = 'z' WHERE k1 = 7")  # one row: an event of its own
        conn.execute(f"UPDATE {table} SET k2 = k2 || '!' WHERE k1 BETWEEN 100 AND 199")  # the key changes
        conn.execute(f"UPDATE {table} SET j = j WHERE k1 BETWEEN 200 AND 260")  # no column changes
        conn.execute(f"DELETE FROM {table} WHERE k1 > 2400")
        conn.execute(f"DELETE FROM {table} WHERE k1 = 1")
    conn.execute(f"TRUNCATE {table}")


SHAPE = ("SELECT op::text, pk, row_data, old_values, statement_ts IS NOT NULL FROM {source} "
         "WHERE table_name = %s AND op IN ('I', 'U', 'D', 'T') ORDER BY xid, id")


def _recorded(conn: Conn, source: str, table: str) -> list[tuple[Any, ...]]:
    return conn.execute(SHAPE.format(source=source), (table,)).fetchall()


def _seal_all(conn: Conn, max_events: int = 10000) -> list[int]:
    counts = []
    while (n := conn.execute("SELECT pgaudit_kit.seal(%s)", (max_events,)).fetchone()[0]) > 0:  # type: ignore[index]
        counts.append(int(n))
    return counts


def test_chunks_record_exactly_what_row_capture_records(kit_conn: Conn) -> None:
    _pair(kit_conn)
    kit_conn.execute("SELECT pgaudit_kit.renew_seal_lease(600)")  # a follower seals: commits leave chunks alone
    for table in ("chunked", "by_row"):
        _write(kit_conn, table)
    chunks = kit_conn.execute("SELECT op::text, n_events FROM pgaudit_kit.event_chunk "
                              "WHERE table_name = 'chunked' ORDER BY xid, id").fetchall()
    assert chunks == [("I", 1024), ("I", 1024), ("I", 452), ("U", 40), ("U", 100), ("U", 61), ("D", 100),
                      ("T", 1024), ("T", 1024), ("T", 351)]
    # by_row has no chunk but its TRUNCATE's: that is set-based in every mode
    assert kit_conn.execute("SELECT op::text, n_events FROM pgaudit_kit.event_chunk "
                            "WHERE table_name = 'by_row' ORDER BY xid, id").fetchall() == [
        ("T", 1024), ("T", 1024), ("T", 351)]
    by_row = _recorded(kit_conn, "pgaudit_kit.recorded_event", "by_row")
    staged = _recorded(kit_conn, "pgaudit_kit.recorded_event", "chunked")
    assert len(by_row) == 2500 + 40 + 1 + 100 + 61 + 100 + 1 + 2399
    assert staged == by_row
    # the redacted column is a digest, the left-out one absent, the unchanged UPDATE lists no column
    inserted = next(r for r in staged if r[0] == "I" and r[1] == {"k1": "2", "k2": "k2"})
    assert inserted[2]["secret"].startswith("hmac-sha256:") and "skipped" not in inserted[2]
    assert inserted[2]["c"] == "c   " and inserted[2]["a"] == "{2,NULL,-2}"
    assert [r[3] for r in staged if r[0] == "U" and r[2]["k1"] == "230"] == [{}]
    assert _seal_all(kit_conn)
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event_chunk").fetchone() == (0,)
    assert _recorded(kit_conn, "pgaudit_kit.event", "chunked") == staged


def test_events_keep_the_order_of_the_transactions_statements(kit_conn: Conn, kit_db: str) -> None:
    _pair(kit_conn)
    with kit_conn.transaction():
        kit_conn.execute("INSERT INTO chunked " + ROWS, (1, 100))       # chunk
        kit_conn.execute("UPDATE chunked SET n = -1 WHERE k1 = 5")      # single event
        kit_conn.execute("UPDATE chunked SET n = -2 WHERE k1 <= 50")    # chunk, row 5 again
        kit_conn.execute("DELETE FROM chunked WHERE k1 = 5")            # single event
    timeline = [(r["operation"], r["old_row"] and r["old_row"]["n"], r["new_row"] and r["new_row"]["n"])
                for r in events(kit_conn, "table_name = 'chunked' AND pk->>'k1' = '5'")]
    assert timeline == [("INSERT", None, "0.71428571428571428571"), ("UPDATE", "0.71428571428571428571", "-1"),
                        ("UPDATE", "-1", "-2"), ("DELETE", "-2", None)]
    staged = kit_conn.execute("SELECT id FROM pgaudit_kit.recorded_event WHERE table_name = 'chunked' "
                              "ORDER BY xid, id").fetchall()
    _seal_all(kit_conn)
    sealed = [int(i) for (ids,) in kit_conn.execute("SELECT event_ids FROM pgaudit_kit.block ORDER BY block_no")
              for i in ids]
    chunked = {int(i) for (i,) in staged}
    assert [i for i in sealed if i in chunked] == [int(i) for (i,) in staged]
    history = cli("history", "chunked", '{"k1": 5, "k2": "k2"}', "--format", "json", dsn=kit_db)
    assert history.exit_code == 0, history.output
    assert [e["operation"] for e in json.loads(history.output)["events"]] == ["INSERT", "UPDATE", "UPDATE", "DELETE"]


def test_review_shows_a_bulk_statement_before_it_is_sealed(kit_conn: Conn, kit_db: str) -> None:
    _pair(kit_conn)
    kit_conn.execute("SELECT pgaudit_kit.renew_seal_lease(600)")  # a follower seals: commits leave it alone
    kit_conn.execute("INSERT INTO chunked " + ROWS, (1, 300))
    args = ("log", "--table", "chunked", "--limit", "500", "--format", "json")
    before = cli(*args, dsn=kit_db)
    assert before.exit_code == 0, before.output
    unsealed = [e for e in json.loads(before.output)["events"] if e["op"] == "I"]
    assert len(unsealed) == 300 and {e["seal"]["status"] for e in unsealed} == {"pending"}
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE table_name = 'chunked' AND op = 'I'"
                            ).fetchone() == (0,)
    status = json.loads(cli("status", "--format", "json", dsn=kit_db).output)
    assert status["sealed_log"]["unsealed_events"] >= 300
    refused = cli("prove", str(unsealed[0]["id"]), dsn=kit_db)
    assert refused.exit_code == 2 and "is not sealed yet" in refused.output, refused.output
    recorded = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.recorded_event").fetchone()
    assert recorded is not None
    kept = cli("uninstall", dsn=kit_db)  # the chunked events count among the history it would destroy
    assert kept.exit_code == 2 and f"{recorded[0]} recorded audit events would be destroyed" in kept.output, kept.output
    _seal_all(kit_conn)
    after = [e for e in json.loads(cli(*args, dsn=kit_db).output)["events"] if e["op"] == "I"]
    assert {e["seal"]["status"] for e in after} == {"sealed"}
    assert [{k: v for k, v in e.items() if k != "seal"} for e in after] == [
        {k: v for k, v in e.items() if k != "seal"} for e in unsealed]


def test_sealing_expands_chunks_a_bounded_number_at_a_time(kit_conn: Conn, kit_db: str) -> None:
    _pair(kit_conn)
    kit_conn.execute("INSERT INTO chunked " + ROWS, (1, 5000))
    kit_conn.execute("INSERT INTO chunked VALUES (0, 'k', 'c', 0, NULL, NULL, NULL, NULL, NULL, NULL)")
    expected = [int(i) for (i,) in kit_conn.execute(
        "SELECT id FROM pgaudit_kit.recorded_event ORDER BY xid, id").fetchall()]
    first = kit_conn.execute("SELECT pgaudit_kit.seal(1500)").fetchone()
    assert first is not None and 0 < first[0] <= 1500
    # the chunks not expanded yet hold back everything after them, the single row of the next transaction too
    left = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event_chunk").fetchone()
    assert left is not None and 0 < left[0] < 5
    counts = _seal_all(kit_conn, 1500)
    assert all(n <= 1500 for n in counts)
    sealed = [int(i) for (ids,) in kit_conn.execute("SELECT event_ids FROM pgaudit_kit.block ORDER BY block_no")
              for i in ids]
    assert sealed == [i for i in expected if i in set(sealed)] and len(set(sealed) & set(expected)) == len(expected)
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event_chunk").fetchone() == (0,)
    reference = reference_agreement.reference_report(kit_db, None, None)
    result = cli("verify", "--format", "json", dsn=kit_db)
    assert result.exit_code == 0 and json.loads(result.output)["findings"] == [], result.output
    reference_agreement.assert_agrees(reference, json.loads(result.output))


def test_a_running_transactions_chunks_wait_for_it(kit_conn: Conn, kit_db: str) -> None:
    _pair(kit_conn)
    with psycopg.connect(kit_db) as running:
        running.execute("INSERT INTO chunked " + ROWS, (1, 100))  # not committed
        kit_conn.execute("INSERT INTO by_row VALUES (1, 'k', 'c', 0, NULL, NULL, NULL, NULL, NULL, NULL)")
        _seal_all(kit_conn)  # nothing from the running transaction on: it may still write
        assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'I'").fetchone() == (1,)
        assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event e JOIN pgaudit_kit.block b "
                                "ON e.id = ANY (b.event_ids) WHERE e.op = 'I'").fetchone() == (0,)
        running.commit()
    assert kit_conn.execute("SELECT n_events FROM pgaudit_kit.event_chunk").fetchall() == [(100,)]
    _seal_all(kit_conn)
    assert kit_conn.execute("SELECT table_name, count(*) FROM pgaudit_kit.event WHERE table_name IN ('chunked', "
                            "'by_row') AND op = 'I' GROUP BY 1 ORDER BY 1").fetchall() == [("by_row", 1), ("chunked", 100)]
    result = cli("verify", "--format", "json", dsn=kit_db)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("rows", [31, 32])
def test_statements_below_32_rows_write_events_directly(kit_conn: Conn, rows: int) -> None:
    _pair(kit_conn)
    kit_conn.execute("INSERT INTO chunked " + ROWS, (1, rows))
    chunked = kit_conn.execute("SELECT coalesce(sum(n_events), 0) FROM pgaudit_kit.event_chunk").fetchone()
    assert chunked == ((rows if rows >= 32 else 0),)
