"""Capture adds no serialization failures and no waits: SERIALIZABLE transactions that write different rows
of audited tables all commit, in every interleaving of their statements and commits (issue 15).

Two transactions, each a first audited statement (it writes the transaction's who/where row), a read of its
own row, a second audited statement on another table, and COMMIT; and three transactions of one audited
statement and COMMIT each. Three are needed to catch what capture used to do: every audited statement
probed the kit's transaction table for its who/where row, so each transaction read an index page the
others wrote, and a transaction between two others (reads what one writes, writes what the other read)
was aborted -- a 59% failure rate at 8 clients under pgbench.

The two audited tables are captured both ways: `acct` by statement triggers with transition tables, `hist`
(partitioned) by row triggers. Statements run one at a time from this thread, so a statement that had to
wait for another transaction would stall the test: lock_timeout turns such a wait into a failure instead.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import psycopg
import pytest

from tests.support.helpers import enable

Conn = psycopg.Connection[Any]


def long_program(k: int) -> list[str]:
    return [f"UPDATE acct SET balance = balance + 1 WHERE id = {k}",
            f"SELECT balance FROM acct WHERE id = {k}",
            f"INSERT INTO hist (acct_id, delta) VALUES ({k}, 1)",
            "COMMIT"]


def short_program(k: int) -> list[str]:
    return [f"UPDATE acct SET balance = balance + 1 WHERE id = {k}", "COMMIT"]


def bulk_program(k: int) -> list[str]:
    """A statement of 50 rows first (recorded as a chunk, with the who/where row), then a single-row one."""
    return [f"INSERT INTO bulk SELECT g, {k} FROM generate_series({k * 100}, {k * 100 + 49}) g",
            f"UPDATE acct SET balance = balance + 1 WHERE id = {k}",
            "COMMIT"]


def interleavings(sessions: int, length: int) -> list[list[int]]:
    """Every order of *sessions* programs of *length* steps each, as the session of each step."""
    if sessions == 1:
        return [[0] * length]
    orders = []
    for first in combinations(range(sessions * length), length):
        for rest in interleavings(sessions - 1, length):
            others = iter(rest)
            orders.append([0 if i in first else 1 + next(others) for i in range(sessions * length)])
    return orders


@pytest.fixture
def audited(kit_conn: Conn) -> Conn:
    kit_conn.execute("""
        -- room on every page for the new version of each row: updates stay HOT (no index entry), so the
        -- workload itself conflicts nowhere and any failure is capture's
        CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL) WITH (fillfactor = 50);
        INSERT INTO acct SELECT g, 0 FROM generate_series(1, 1000) g;
        CREATE TABLE hist (acct_id int NOT NULL, delta int NOT NULL) PARTITION BY RANGE (acct_id);
        CREATE TABLE hist_all PARTITION OF hist FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
        CREATE TABLE bulk (id int PRIMARY KEY, k int NOT NULL);""")
    enable(kit_conn, "acct")
    enable(kit_conn, "hist")
    enable(kit_conn, "bulk")
    modes = dict(kit_conn.execute("SELECT table_name, capture_mode FROM pgaudit_kit.enrolled_table").fetchall())
    assert modes == {"acct": "statement", "hist": "row", "bulk": "statement"}
    return kit_conn


@pytest.mark.parametrize(("sessions", "program", "count"), [(2, long_program, 70), (3, short_program, 90),
                                                           (2, bulk_program, 20)],
                         ids=["two transactions of four steps", "three transactions of two steps",
                              "two transactions with a chunked statement"])
def test_serializable_writers_of_different_rows_always_all_commit(
        audited: Conn, kit_db: str, sessions: int, program: Callable[[int], list[str]], count: int) -> None:
    options = "-c default_transaction_isolation=serializable -c lock_timeout=2s"
    orders = interleavings(sessions, len(program(0)))
    assert len(orders) == count
    connections = [psycopg.connect(kit_db, options=options) for _ in range(sessions)]
    try:
        for n, order in enumerate(orders):
            # rows new for every interleaving, so no run depends on another's leftovers
            programs = [iter(program(sessions * n + who + 1)) for who in range(sessions)]
            for who in order:
                statement = next(programs[who])
                try:
                    connections[who].execute(statement)
                except psycopg.Error as exc:
                    pytest.fail(f"interleaving {order}: session {who} failed at {statement!r}: {exc}")
    finally:
        for conn in connections:
            conn.close()
    written = sessions * count
    inserts_per_transaction: dict[Callable[[int], list[str]], int] = {long_program: 1, short_program: 0,
                                                                      bulk_program: 50}
    inserts = written * inserts_per_transaction[program]
    counts = audited.execute("""
        SELECT count(*) FILTER (WHERE e.op = 'U'), count(*) FILTER (WHERE e.op = 'I'), count(DISTINCT e.xid),
               count(DISTINCT t.xid)
          FROM pgaudit_kit.recorded_event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
         WHERE e.op IN ('U', 'I')""").fetchone()
    # every write recorded, each transaction with its who/where row
    assert counts == (written, inserts, written, written)
