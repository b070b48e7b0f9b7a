"""Review speed on a large log, and what the review indexes and watch notifications cost writers.

    python -m bench.review --events 5000000 --json bench/review.json        # from the repository root

Measured:
  * a log of EVENTS events across 20 enrolled tables over 30 days (about 4 events per transaction, 500
    claimed actors with a skewed popularity, three roles, a request id in 70% of transactions), written
    straight into the kit's tables by a superuser (fast; the guards refuse only UPDATE/DELETE/TRUNCATE),
    then sealed, vacuumed and analysed as autovacuum would have;
  * the time of the first page of each review query, through the same library calls as the commands
    (review event recorded and committed, REPEATABLE READ snapshot, server-side cursor, rendered as
    JSON), median of RUNS runs with a different row / table / actor / transaction each run:
    history of one row < 50 ms, log --table T --since 1h < 200 ms, log --actor A --since 1d < 500 ms,
    tx < 50 ms (and, for information, other filters);
  * write cost, in the same run: pgbench tpcb-like and a bulk INSERT ... SELECT on a database with the
    kit as installed against a copy without the revision-0004 indexes and notification trigger (ABBA
    pairs), and tpcb-like with and without a watch lease (notifications sent at every commit);
  * the size of each index per recorded event.

Not a test: nothing here asserts; it prints PASS/MISS against the targets.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from bench.capture import (
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    connect,
    log,
    machine_info,
    parse_number,
    run_pgbench,
    write_results,
)
from bench.capture import source_revision as capture_source_revision
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg import db, reviews
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.review import events as review_events
from pgaudit_kit.review import history
from pgaudit_kit.review import render as review_render
from pgaudit_kit.review.query import EventFilter, parse_context, parse_pk
from pgaudit_kit.review.timeparse import parse_time
from pgaudit_kit.schema import installer
from tests.support import large_log
from tests.support.large_log import DAYS, TABLES

TARGETS_MS = {"history": 50.0, "log_table_since_1h": 200.0, "log_actor_since_1d": 500.0, "tx": 50.0}
V4_INDEXES = ("event_relid_time_brin", "event_row_idx", "event_ddl_control_idx",
              "transaction_context_idx", "transaction_actor_idx", "transaction_acting_role_idx",
              "transaction_set_role_idx")


# -- the large log -------------------------------------------------------------------------------------
def generate(server: TempServer, database: str, events: int, partition_events: int | None = None) -> dict[str, Any]:
    with connect(server, database) as conn:
        return large_log.generate(conn, events, partition_events=partition_events, log=log)


def index_sizes(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    events_row = conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
    tx_row = conn.execute("SELECT count(*) FROM pgaudit_kit.transaction").fetchone()
    assert events_row is not None and tx_row is not None
    events, transactions = int(events_row[0]), int(tx_row[0])
    sizes = {}
    for name, table, size in conn.execute(
            "SELECT c.relname::text, t.relname::text, "
            "       COALESCE((SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree(c.oid) p), "
            "                pg_relation_size(c.oid)) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE t.relnamespace = 'pgaudit_kit'::regnamespace AND t.relname IN ('event', 'transaction') "
            "ORDER BY 2, 1").fetchall():
        sizes[str(name)] = {"table": table, "bytes": int(size), "review_index": name in V4_INDEXES,
                            "bytes_per_event": round(int(size) / events, 1)}
    # (the event table is partitioned since revision 0013: its partitions hold the rows)
    heap = conn.execute("SELECT (SELECT sum(pg_table_size(relid)) FROM pg_partition_tree('pgaudit_kit.event')), "
                        "pg_table_size('pgaudit_kit.transaction')").fetchone()
    assert heap is not None
    return {"events": events, "transactions": transactions,
            "event_heap_bytes_per_event": round(int(heap[0]) / events, 1),
            "transaction_heap_bytes_per_event": round(int(heap[1]) / events, 1), "indexes": sizes,
            "review_indexes_bytes_per_event": round(sum(s["bytes"] for n, s in sizes.items() if n in V4_INDEXES)
                                                    / events, 1)}


def index_build_times(conn: psycopg.Connection[Any]) -> dict[str, float]:
    """Seconds to build each review index on this log (what an upgrade to revision 0004 does, audited
    writes waiting meanwhile), measured in a transaction that is rolled back."""
    times: dict[str, float] = {}
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT pgaudit_kit.begin_maintenance('bench: time the review index builds (rolled back)')")
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for index in V4_INDEXES:
            row = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (f"pgaudit_kit.{index}",)).fetchone()
            assert row is not None
            conn.execute(sql.SQL("DROP INDEX pgaudit_kit.{}").format(sql.Identifier(index)))
            started = time.perf_counter()
            # the definition of a partitioned table's index says ON ONLY (it would build no partition's index)
            conn.execute(str(row[0]).replace(" ON ONLY ", " ON ", 1))
            times[index] = round(time.perf_counter() - started, 2)
            log(f"  build {index}: {times[index]:.1f} s")
    return times


# -- query timing --------------------------------------------------------------------------------------
Run = tuple[int, float]  # events shown, seconds spent recording the review (its commit waits for the WAL flush)


def _review(conn: psycopg.Connection[Any], command: str, filters: dict[str, Any]) -> float:
    started = time.perf_counter()
    reviews.record_review(conn, command, filters)
    return time.perf_counter() - started


def run_log(conn: psycopg.Connection[Any], flt: EventFilter, out: io.BytesIO) -> Run:
    page = review_events.Page(limit=50)
    review = _review(conn, "log", {**flt.as_review(), **page.as_review()})
    db.begin_consistent_read(conn)
    events = review_events.EventPage(conn, flt, page)
    writer = review_render.event_writer("json", out)
    writer.begin()
    for chunk in events:
        writer.write(chunk)
    writer.end(events.next_cursor)
    conn.rollback()
    return events.count, review


def run_history(conn: psycopg.Connection[Any], table: str, pk: str, out: io.BytesIO) -> Run:
    review = _review(conn, "history", {"table": table, "pk": pk})
    db.begin_consistent_read(conn)
    timeline = history.RowHistory(conn, table, parse_pk(pk))
    writer = review_render.HistoryWriter("json", out, table, table, timeline.documents)
    writer.begin()
    for entries in timeline:
        writer.write(entries)
    writer.end(timeline.count)
    conn.rollback()
    return timeline.count, review


def run_tx(conn: psycopg.Connection[Any], xid: int, out: io.BytesIO) -> Run:
    review = _review(conn, "tx", {"tx": str(xid)})
    db.begin_consistent_read(conn)
    record = review_events.transaction(conn, xid)
    writer = review_render.event_writer("json", out, {"transaction": record.as_dict() if record else None})
    writer.begin()
    count = 0
    for chunk in review_events.transaction_events(conn, xid):
        writer.write(chunk)
        count += len(chunk)
    writer.end()
    conn.rollback()
    return count, review


def timed(runs: int, make: Callable[[int], tuple[str, Callable[[io.BytesIO], Run]]]) -> dict[str, Any]:
    """Median of *runs* first pages; *make(i)* gives a description and the call for run i. The time of the
    review record (a commit: it waits for the WAL flush) is reported apart as well."""
    seconds, reviewing, results, descriptions = [], [], [], []
    for i in range(runs):
        description, call = make(i)
        out = io.BytesIO()
        started = time.perf_counter()
        shown, review = call(out)
        seconds.append(time.perf_counter() - started)
        reviewing.append(review)
        results.append(shown)
        descriptions.append(description)
    reads = [s - r for s, r in zip(seconds, reviewing, strict=True)]
    return {"median_ms": round(statistics.median(seconds) * 1000, 1), "min_ms": round(min(seconds) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1), "runs_ms": [round(s * 1000, 1) for s in seconds],
            "read_median_ms": round(statistics.median(reads) * 1000, 1),
            "review_record_median_ms": round(statistics.median(reviewing) * 1000, 1),
            "events_shown": results, "arguments": descriptions}


def measure_queries(dsn: str, runs: int) -> dict[str, Any]:
    rng = random.Random(7)
    conn = psycopg.connect(dsn)
    results: dict[str, Any] = {}
    try:
        samples = conn.execute("SELECT e.table_name, e.pk->>'id', e.xid::text::int8 FROM pgaudit_kit.event e "
                               "TABLESAMPLE SYSTEM (1) REPEATABLE (7) WHERE e.pk IS NOT NULL LIMIT 500").fetchall()
        conn.rollback()
        actors = [str(r[0]) for r in conn.execute(
            "SELECT t.actor FROM pgaudit_kit.transaction t WHERE t.xact_start >= now() - interval '1 day' "
            "AND t.actor IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC").fetchall()]
        conn.rollback()
        typical = actors[len(actors) // 2: len(actors) // 2 + runs] or actors[:runs]
        rare = actors[-runs:]
        request = conn.execute("SELECT DISTINCT context->>'request_id' FROM pgaudit_kit.transaction "
                               "TABLESAMPLE SYSTEM (1) REPEATABLE (3) WHERE context IS NOT NULL LIMIT 50").fetchall()
        conn.rollback()
        tables = [f"public.t{n:02d}" for n in range(1, TABLES + 1)]
        rng.shuffle(tables)

        def sample(i: int) -> tuple[str, str, int]:
            table, pk, xid = samples[(i * 37) % len(samples)]
            return f"public.{table}", str(pk), int(xid)

        def history_run(i: int) -> tuple[str, Callable[[io.BytesIO], Run]]:
            table, pk, _ = sample(i)
            return f"history {table} {pk}", lambda out: run_history(conn, table, pk, out)

        def log_run(flt: EventFilter, text: str) -> tuple[str, Callable[[io.BytesIO], Run]]:
            return text, lambda out: run_log(conn, flt, out)

        since_1h, since_1d = parse_time("1h", "--since"), parse_time("1d", "--since")
        plans: dict[str, Callable[[int], tuple[str, Callable[[io.BytesIO], Run]]]] = {
            "history": history_run,
            "log_table_since_1h": lambda i: log_run(EventFilter(tables=(tables[i % TABLES],), since=since_1h),
                                                    f"log --table {tables[i % TABLES]} --since 1h"),
            "log_actor_since_1d": lambda i: log_run(EventFilter(actors=(typical[i % len(typical)],), since=since_1d),
                                                    f"log --actor {typical[i % len(typical)]} --since 1d"),
            "tx": lambda i: (f"tx {sample(i)[2]}", lambda out: run_tx(conn, sample(i)[2], out)),
            # for information: no target
            "log_rare_actor_since_1d": lambda i: log_run(EventFilter(actors=(rare[i % len(rare)],), since=since_1d),
                                                         f"log --actor {rare[i % len(rare)]} --since 1d"),
            "log_table": lambda i: log_run(EventFilter(tables=(tables[i % TABLES],)),
                                           f"log --table {tables[i % TABLES]}"),
            "log_everything": lambda i: log_run(EventFilter(), "log"),
            "log_role_postgres_since_1d": lambda i: log_run(EventFilter(actors=("postgres",), since=since_1d),
                                                            "log --actor postgres --since 1d"),
            "log_context_request_id": lambda i: log_run(
                EventFilter(context=(parse_context(f"request_id={request[i % len(request)][0]}"),)),
                f"log --context request_id={request[i % len(request)][0]}"),
            "log_table_pk": lambda i: log_run(EventFilter(tables=(sample(i)[0],), pk=parse_pk(sample(i)[1])),
                                              f"log --table {sample(i)[0]} --pk {sample(i)[1]}"),
            "log_changed_since_1h": lambda i: log_run(EventFilter(changed=("status",), since=since_1h),
                                                      "log --changed status --since 1h"),
        }
        for name, make in plans.items():
            make(0)[1](io.BytesIO())  # warm the plan cache and the buffers once
            results[name] = timed(runs, make)
            target = TARGETS_MS.get(name)
            if target:
                results[name]["target_ms"] = target
                results[name]["met"] = results[name]["median_ms"] < target
            log(f"  {name:28} median {results[name]['median_ms']:8.1f} ms (read {results[name]['read_median_ms']:.1f})"
                + (f" (target < {target:g})" if target else ""))
    finally:
        conn.close()
    return results


# -- write cost ----------------------------------------------------------------------------------------
def prepare_write_databases(server: TempServer, scale: int) -> None:
    """`v4`: the kit as installed; `v3`: the same without the revision-0004 indexes and notify trigger."""
    with connect(server, "postgres") as admin:
        for name in ("v4", "v3"):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for name in ("v4", "v3"):
        run_pgbench(server, name, ["-i", "-s", str(scale), "-q"])
        with connect(server, name) as conn:
            conn.execute("CREATE TABLE bench_bulk (id bigint PRIMARY KEY, aid integer NOT NULL, delta integer NOT NULL,"
                         " note text NOT NULL, mtime timestamptz NOT NULL)")
        installer.install(connector(server.dsn(name)))
        with connect(server, name) as conn:
            enable_tables(conn, [*PGBENCH_TABLES, "bench_bulk"], CaptureOptions())
    with connect(server, "v3") as conn, conn.transaction():
        conn.execute("SELECT pgaudit_kit.begin_maintenance('bench: the kit without the revision-0004 review indexes')")
        for index in V4_INDEXES:
            conn.execute(sql.SQL("DROP INDEX pgaudit_kit.{}").format(sql.Identifier(index)))
        conn.execute("DROP TRIGGER pgaudit_kit_notify_watchers ON pgaudit_kit.transaction")


def _settle(conn: psycopg.Connection[Any]) -> None:
    conn.execute("VACUUM pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, bench_bulk")
    conn.execute("CHECKPOINT")


def _tps(server: TempServer, database: str, clients: int, duration: int) -> float:
    with connect(server, database) as conn:
        _settle(conn)
    out = run_pgbench(server, database, ["-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(duration)])
    return parse_number(r"tps = ([0-9.]+) \(without initial connection time\)", out)


def _pairs(repeat: int, first: str, second: str) -> list[tuple[str, str]]:
    return [(first, second) if rep % 2 == 0 else (second, first) for rep in range(repeat)]


def write_cost(server: TempServer, clients_list: Sequence[int], duration: int, repeat: int,
               bulk_rows: int) -> dict[str, Any]:
    result: dict[str, Any] = {"tpcb": [], "bulk_insert_select": {}, "notify": []}
    for clients in clients_list:
        tps: dict[str, list[float]] = {"v3": [], "v4": []}
        for pair in _pairs(repeat, "v3", "v4"):
            for database in pair:
                tps[database].append(_tps(server, database, clients, duration))
                log(f"  {database} {clients:2} clients: {tps[database][-1]:8.1f} tps")
        ratios = [b / a for a, b in zip(tps["v3"], tps["v4"], strict=True)]
        result["tpcb"].append({"clients": clients, "without_review_indexes_tps": statistics.median(tps["v3"]),
                               "with_review_indexes_tps": statistics.median(tps["v4"]),
                               "ratio": round(statistics.median(ratios), 3), "runs": tps})
    seconds: dict[str, list[float]] = {"v3": [], "v4": []}
    for rep, pair in enumerate(_pairs(repeat, "v3", "v4")):
        for database in pair:
            with connect(server, database) as conn:
                _settle(conn)
                first = 1 + rep * bulk_rows
                started = time.perf_counter()
                with conn.transaction():
                    conn.execute("INSERT INTO bench_bulk SELECT g, g %% 1000000 + 1, g %% 5000 - 2500, 'row ' || g, "
                                 "now() FROM generate_series(%s::int8, %s::int8) g", (first, first + bulk_rows - 1))
                seconds[database].append(time.perf_counter() - started)
            log(f"  {database} INSERT ... SELECT {bulk_rows:,} rows: {seconds[database][-1]:.3f} s")
    result["bulk_insert_select"] = {
        "rows": bulk_rows, "without_review_indexes_s": statistics.median(seconds["v3"]),
        "with_review_indexes_s": statistics.median(seconds["v4"]),
        "ratio": round(statistics.median([b / a for a, b in zip(seconds["v3"], seconds["v4"], strict=True)]), 3),
        "runs": seconds}
    # Notifications: the same database with and without a valid watch lease; a listener drains them.
    clients = max(clients_list)
    stop = threading.Event()
    listener = psycopg.connect(server.dsn("v4"), autocommit=True)
    listener.execute("LISTEN pgaudit_kit_events")
    received = [0]

    def drain() -> None:
        while not stop.is_set():
            received[0] += sum(1 for _ in listener.notifies(timeout=0.2))

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    watched: dict[str, list[float]] = {"idle": [], "watched": []}
    try:
        for pair in _pairs(repeat, "idle", "watched"):
            for mode in pair:
                with connect(server, "v4") as conn:
                    conn.execute("SELECT setval('pgaudit_kit.watch_lease', %s)",
                                 (int(time.time()) + duration + 120 if mode == "watched" else 0,))
                before = received[0]
                watched[mode].append(_tps(server, "v4", clients, duration))
                log(f"  v4 {clients} clients, {mode:7}: {watched[mode][-1]:8.1f} tps, "
                    f"{received[0] - before} notifications")
    finally:
        stop.set()
        thread.join()
        listener.close()
        with connect(server, "v4") as conn:
            conn.execute("SELECT setval('pgaudit_kit.watch_lease', 0)")
    result["notify"] = {"clients": clients, "idle_tps": statistics.median(watched["idle"]),
                        "watched_tps": statistics.median(watched["watched"]),
                        "ratio": round(statistics.median([w / i for i, w in zip(watched["idle"], watched["watched"],
                                                                                 strict=True)]), 3),
                        "notifications": received[0], "runs": watched}
    with connect(server, "v4") as conn:
        result["storage_v4"] = index_sizes(conn)
    return result


# -- report --------------------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    lines = [f"Log: {results['log']['events']:,} events, {results['log']['transactions']:,} transactions, "
             f"{TABLES} tables, {DAYS} days; generated in {sum(results['log']['phases'].values()):.0f} s",
             "", "First page (50 events, JSON), median of runs; total = review recorded (a commit) + read:"]
    for name, data in results["queries"].items():
        target = data.get("target_ms")
        verdict = "" if target is None else f"  target < {target:g} ms  {'PASS' if data['met'] else 'MISS'}"
        lines.append(f"  {name:28} {data['median_ms']:8.1f} ms = {data['review_record_median_ms']:6.1f} + "
                     f"{data['read_median_ms']:7.1f}  (min {data['min_ms']:.1f}, max {data['max_ms']:.1f})" + verdict)
    builds = results.get("index_build_s", {})
    if builds:
        lines += ["", f"Building the review indexes on this log (an upgrade): {sum(builds.values()):.1f} s in all: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in builds.items())]
    storage = results["storage"]
    lines += ["", f"Index bytes per event (review indexes: {storage['review_indexes_bytes_per_event']} B/event):"]
    for name, data in storage["indexes"].items():
        mark = "  (review)" if data["review_index"] else ""
        lines.append(f"  {name:28} {data['bytes_per_event']:7.1f} B/event{mark}")
    if "write_cost" in results:
        wc = results["write_cost"]
        lines += ["", "Write cost of the review indexes and notification trigger (with / without, ABBA pairs):"]
        for t in wc["tpcb"]:
            lines.append(f"  tpcb {t['clients']:2} clients: {t['with_review_indexes_tps']:8.1f} vs "
                         f"{t['without_review_indexes_tps']:8.1f} tps = {t['ratio']:.3f}")
        b = wc["bulk_insert_select"]
        lines.append(f"  INSERT ... SELECT {b['rows']:,} rows: {b['with_review_indexes_s']:.3f} vs "
                     f"{b['without_review_indexes_s']:.3f} s = {b['ratio']:.3f}")
        n = wc["notify"]
        lines.append(f"  tpcb {n['clients']} clients while watched (notifications at most every 100 ms): "
                     f"{n['watched_tps']:.1f} vs {n['idle_tps']:.1f} tps = {n['ratio']:.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000, help="events in the log (default 5,000,000)")
    parser.add_argument("--runs", type=int, default=7, help="runs per query, median taken (default 7)")
    parser.add_argument("--write-cost", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the write cost (default: yes)")
    parser.add_argument("--clients", default="1,8", help="pgbench client counts for the write cost (default 1,8)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="ABBA pairs per write measurement (default 3)")
    parser.add_argument("--bulk-rows", type=int, default=100_000, help="rows of the bulk INSERT (default 100,000)")
    parser.add_argument("--partition-events", type=int, metavar="N",
                        help="spread the log over partitions of the event table N events wide (default: the "
                             "kit's)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench.review", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
                               "source": capture_source_revision()}
    with TempServer(settings=DURABLE_SETTINGS) as server:
        log(f"server on port {server.port}")
        with connect(server, "postgres") as admin:
            admin.execute("CREATE DATABASE review")
        results["kit_revision"] = installer.install(connector(server.dsn("review"))).after
        results["machine"] = machine_info(server)
        results["log"] = generate(server, "review", args.events, partition_events=args.partition_events)
        with connect(server, "review") as conn:
            results["storage"] = index_sizes(conn)
        log("review queries")
        results["queries"] = measure_queries(server.dsn("review"), args.runs)
        log("index builds")
        with connect(server, "review") as conn:
            results["index_build_s"] = index_build_times(conn)
        if args.write_cost:
            log("write cost")
            prepare_write_databases(server, 10)
            results["write_cost"] = write_cost(server, [int(c) for c in args.clients.split(",")], args.duration,
                                               args.repeat, args.bulk_rows)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(report(results))
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
