"""A large synthetic log, written straight into the kit's tables (fast: the guards refuse only UPDATE, DELETE
and TRUNCATE of history), for the review benchmarks and the plan tests.

EVENTS events across TABLES enrolled tables t01.. over DAYS days, about 4 events per transaction, ACTORS
claimed actors with a skewed popularity (user-0000 the most active), three roles (app, batch, postgres),
a request id in 70% of transactions shared by two. Row keys are spread at random over each table's
ROWS_PER_TABLE rows, so a row's events lie anywhere in the log. The log is then vacuumed, analysed and
sealed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.log import sealing

TABLES = 20
ROWS_PER_TABLE = 50_000
ACTORS = 500
DAYS = 30

TRANSACTIONS_SQL = """
INSERT INTO pgaudit_kit.transaction (xid, xact_start, session_role, acting_role, actor, context, application_name,
                                     client_addr, client_port, backend_pid)
SELECT (%(x0)s::int8 + i)::text::xid8,
       %(start)s::timestamptz + (i * %(step)s::float8) * interval '1 second',
       CASE WHEN i %% 100 = 0 THEN 'postgres' ELSE 'app' END,
       CASE WHEN i %% 100 = 0 THEN 'postgres' WHEN i %% 25 = 0 THEN 'batch' ELSE 'app' END,
       CASE WHEN i %% 100 <> 0 THEN 'user-' || lpad(floor(%(actors)s * power(random(), 3))::int::text, 4, '0')
                                  || '@example.com' END,
       CASE WHEN i %% 10 < 7 THEN jsonb_build_object('request_id', 'req-' || (i / 2), 'trace_id', md5(i::text)) END,
       'shop-web', '10.0.0.7'::inet, 40000 + i %% 20000, 1000 + i %% 5000
  FROM generate_series(%(lo)s::int8, %(hi)s::int8) i
"""

EVENTS_SQL = """
INSERT INTO pgaudit_kit.event (xid, statement_ts, op, relid, schema_name, table_name, pk, row_data, old_values)
SELECT (%(x0)s::int8 + i)::text::xid8,
       %(start)s::timestamptz + (i * %(step)s::float8) * interval '1 second' + k * interval '1 millisecond',
       o.op, (%(relids)s::oid[])[tbl], 'public', (%(names)s::text[])[tbl], jsonb_build_object('id', rowid::text),
       jsonb_build_object('id', rowid::text, 'status', 's' || (i %% 5), 'amount', ((i * 7 + k) %% 100000 / 100.0)::text,
                          'note', 'note ' || i || '/' || k, 'updated_at', (%(start)s::timestamptz
                          + (i * %(step)s::float8) * interval '1 second')::text),
       CASE WHEN o.op = 'U' THEN jsonb_build_object('status', 's' || ((i + 1) %% 5),
                                                      'amount', ((i * 7 + k + 1) %% 100000 / 100.0)::text) END
  FROM generate_series(%(lo)s::int8, %(hi)s::int8) i
 CROSS JOIN LATERAL generate_series(1, 1 + (i %% 7)::int) k
 CROSS JOIN LATERAL (SELECT 1 + ((i * 7 + k * 13) %% %(tables)s)::int AS tbl,
                            1 + ((hashint8(i * 16 + k) & 2147483647) %% %(rows)s) AS rowid,
                            CASE WHEN (i * 31 + k * 17) %% 10 < 3 THEN 'I' WHEN (i * 31 + k * 17) %% 10 < 9 THEN 'U'
                                 ELSE 'D' END::"char" AS op) o
 ORDER BY i, k
"""


def generate(conn: psycopg.Connection[Any], events: int, *, batch_tx: int = 100_000,
             partition_events: int | None = None, tables: int = TABLES, rows_per_table: int = ROWS_PER_TABLE,
             log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Create, enrol and fill, on an autocommit superuser connection to a database with the kit; returns facts about the log (counts, span, seconds per phase). With
    *partition_events*, the log is spread over partitions of the event table that many events wide, after the
    first partitions (a fresh install's are 2^26 ids wide)."""
    phases: dict[str, float] = {}
    started = time.monotonic()
    if partition_events:
        top = conn.execute("SELECT max(upper_id) FROM pgaudit_kit.event_partitions()").fetchone()
        assert top is not None
        conn.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", (top[0] - 1024,))
        conn.execute("SELECT pgaudit_kit.add_event_partitions(%s, %s)",
                     (partition_events * 1024, events // partition_events + 3))
    for n in range(1, tables + 1):
        conn.execute(sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, status text, amount numeric(12,2), "
                             "note text, updated_at timestamptz)").format(sql.Identifier(f"t{n:02d}")))
    enable_tables(conn, [f"public.t{n:02d}" for n in range(1, tables + 1)], CaptureOptions())
    rows = conn.execute("SELECT relid::int8, table_name FROM pgaudit_kit.enrolled_table "
                        "ORDER BY table_name").fetchall()
    relids, names = [int(r[0]) for r in rows], [str(r[1]) for r in rows]
    transactions = events // 4
    # The synthetic transactions take xids that real ones have used and finished, so that sealing sees
    # them below its horizon and no later real transaction can share one.
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench_tools")
    conn.execute("CREATE OR REPLACE PROCEDURE bench_tools.burn(n int) LANGUAGE plpgsql AS $$ BEGIN FOR i IN 1..n LOOP "
                 "PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$")
    row = conn.execute("SELECT pg_current_xact_id()::text::int8").fetchone()
    assert row is not None
    x0 = int(row[0]) + 10
    conn.execute("SET synchronous_commit = off")
    conn.execute("CALL bench_tools.burn(%s)", (transactions + 20,))
    phases["burn_xids_s"] = time.monotonic() - started
    now = conn.execute("SELECT date_trunc('second', now())").fetchone()
    assert now is not None
    end: datetime = now[0]
    start = end.timestamp() - DAYS * 86400
    step = DAYS * 86400 / transactions
    params: dict[str, Any] = {"x0": x0, "start": datetime.fromtimestamp(start, UTC), "step": step,
                              "actors": ACTORS, "relids": relids, "names": names, "tables": tables,
                              "rows": rows_per_table}
    conn.execute("SELECT setseed(0.42)")
    # REPEATABLE READ: the piggy-backed sealing at commit stays out of the way (it runs only under READ
    # COMMITTED); the log is sealed in one pass afterwards.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    mark = time.monotonic()
    for lo in range(1, transactions + 1, batch_tx):
        hi = min(lo + batch_tx - 1, transactions)
        with conn.transaction():
            conn.execute(TRANSACTIONS_SQL, {**params, "lo": lo, "hi": hi})
            conn.execute(EVENTS_SQL, {**params, "lo": lo, "hi": hi})
        log(f"  transactions {lo:,}..{hi:,} of {transactions:,}")
    phases["insert_s"] = time.monotonic() - mark
    conn.isolation_level = None
    mark = time.monotonic()
    conn.execute("VACUUM (ANALYZE) pgaudit_kit.event, pgaudit_kit.transaction")
    phases["vacuum_analyze_s"] = time.monotonic() - mark
    mark = time.monotonic()
    sealed = sealing.seal(conn)
    phases["seal_s"] = time.monotonic() - mark
    facts = conn.execute(
        "SELECT count(*), min(statement_ts), max(statement_ts), count(DISTINCT xid) FROM pgaudit_kit.event"
    ).fetchone()
    assert facts is not None
    holding = conn.execute("SELECT count(DISTINCT tableoid) FROM pgaudit_kit.event").fetchone()
    assert holding is not None
    log(f"generated {int(facts[0]):,} events in {time.monotonic() - started:.0f} s over {holding[0]} partitions; "
        f"sealed {sealed:,}")
    return {"events": int(facts[0]), "partitions_holding_events": int(holding[0]),
            "partition_width_events": partition_events, "transactions": int(facts[3]), "first": facts[1].isoformat(),
            "last": facts[2].isoformat(), "tables": tables, "rows_per_table": rows_per_table, "actors": ACTORS,
            "days": DAYS, "sealed": sealed, "phases": {k: round(v, 1) for k, v in phases.items()}}


def keyed_event_at(conn: psycopg.Connection[Any], fraction: float) -> tuple[str, str, int, str]:
    """(table, key, xid, request id) of the first keyed event with a request id at *fraction* of the log's id
    range (0: its start, 1: its end)."""
    row = conn.execute(
        "SELECT 'public.' || e.table_name, e.pk->>'id', e.xid::text::int8, t.context->>'request_id' "
        "FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t ON t.xid = e.xid "
        "WHERE e.pk IS NOT NULL AND t.context IS NOT NULL AND e.id >= (SELECT min(id) + %s * (max(id) - min(id)) "
        "FROM pgaudit_kit.event WHERE pk IS NOT NULL) ORDER BY e.id LIMIT 1", (fraction,)).fetchone()
    assert row is not None, f"no keyed event with a request id at {fraction} of the log"
    return str(row[0]), str(row[1]), int(row[2]), str(row[3])
