"""Does sealing keep up? The age of the oldest unsealed event under load, with a `seal --follow` process.

    python -m bench.backlog --clients 16 --duration 30 --json bench/backlog.json   # from the repo root

Issue 15 asks that moving sealing off the writers' commit path keeps the backlog under 2 s at 16 clients. One
throwaway server (durable settings) holds a pgbench database with the kit installed and its tables enrolled
for row capture; `pgaudit-kit seal --follow --interval 0.5` runs throughout (bench.reference.seal_follower),
pgbench tpcb-like runs at --clients for --duration seconds, and a sampler reads the backlog every
--sample seconds (pgaudit_kit.log.sealing.backlog: committed events not yet sealed, and the age of the oldest,
now minus its statement timestamp). Reported: the maximum and percentiles of that age and of the count, and
the backlog once pgbench has stopped and the follower has had one interval.

Then, with the same follower, the bulk case of issue 16 ("after a 1,000,000-row statement on an idle database
with the follower running, everything is sealed within 30 s"): once the load's events are sealed and the
follower idles, one INSERT ... SELECT of --bulk-rows rows into bench_bulk (enrolled with the defaults:
statement capture, so the rows go in chunks), then one UPDATE of all of them; for each, the statement's time
and the seconds from its commit until nothing is left unsealed (polled every 0.1 s).

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
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
    BULK_TABLE,
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    connect,
    create_pgbench_databases,
    insert_select,
    log,
    machine_info,
    run_pgbench,
    source_revision,
)
from bench.reference import SEAL_FOLLOW_INTERVAL, seal_follower
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.log.sealing import backlog
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

DATABASE = "audited_row"
BULK_SEALED_TARGET = 30.0  # seconds from the commit of a 1,000,000-row statement until all of it is sealed


def sample(dsn: str, every: float, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    """(age of the oldest unsealed event in seconds, unsealed events) every *every* seconds until *stop*."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            state = backlog(conn)
            out.append((float(state.age_seconds or 0.0), state.count))
            stop.wait(every)


def seconds_until_sealed(conn: psycopg.Connection[Any], timeout: float) -> float:
    started = time.perf_counter()
    while backlog(conn).count:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"still unsealed after {timeout:g} s: is the follower running?")
        time.sleep(0.1)
    return time.perf_counter() - started


def bulk_sealing(conn: psycopg.Connection[Any], rows: int) -> list[dict[str, Any]]:
    """An idle database with the follower idle, then one statement of *rows* rows: its time and how long after
    its commit everything was sealed. *conn* is in autocommit: each statement commits on its own."""
    seconds_until_sealed(conn, 120)
    time.sleep(SEAL_FOLLOW_INTERVAL * 4)  # the follower has found nothing and waits for a commit
    results = []
    statements: dict[str, Callable[[], object]] = {
        "insert_select": lambda: insert_select(conn, BULK_TABLE, 1, rows),
        "update": lambda: conn.execute(sql.SQL("UPDATE {} SET delta = delta + 1").format(sql.Identifier(BULK_TABLE))),
    }
    for operation, statement in statements.items():
        log(f"{operation} of {rows:,} rows on an idle database")
        started = time.perf_counter()
        statement()
        committed = time.perf_counter()
        sealed_after = seconds_until_sealed(conn, 600)
        results.append({"operation": operation, "rows": rows, "statement_seconds": committed - started,
                        "sealed_after_commit_seconds": sealed_after,
                        "target_met": sealed_after <= BULK_SEALED_TARGET})
        log(f"  {committed - started:.2f} s; everything sealed {sealed_after:.2f} s after its commit")
        time.sleep(SEAL_FOLLOW_INTERVAL * 4)
    return results


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="pgbench clients (default 16)")
    parser.add_argument("--duration", type=int, default=30, help="seconds of pgbench (default 30)")
    parser.add_argument("--sample", type=float, default=0.25, help="seconds between backlog samples (default 0.25)")
    parser.add_argument("--bulk-rows", type=int, default=1_000_000,
                        help="rows of the bulk statements sealed on an idle database (default 1,000,000; 0: none)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    if min(args.scale, args.clients, args.duration) < 1 or args.sample <= 0 or args.bulk_rows < 0:
        parser.error("--scale, --clients, --duration and --sample must be positive, --bulk-rows not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    samples: list[tuple[float, int]] = []
    with TempServer(settings=DURABLE_SETTINGS) as server:
        create_pgbench_databases(server, [DATABASE], args.scale)
        revision = installer.install(connector(server.dsn(DATABASE))).after
        with connect(server, DATABASE) as conn:
            enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row"))
            enable_tables(conn, [BULK_TABLE], CaptureOptions())
        machine = machine_info(server)
        with seal_follower(server, DATABASE) as follower:
            stop = threading.Event()
            sampler = threading.Thread(target=sample, args=(server.dsn(DATABASE), args.sample, stop, samples))
            sampler.start()
            try:
                log(f"pgbench tpcb-like, {args.clients} clients, {args.duration} s")
                out = run_pgbench(server, DATABASE, ["-n", "-c", str(args.clients), "-j", "2",
                                                     "-T", str(args.duration)])
            finally:
                stop.set()
                sampler.join()
            time.sleep(SEAL_FOLLOW_INTERVAL * 2)
            with connect(server, DATABASE) as conn:
                after = backlog(conn)
                bulk = bulk_sealing(conn, args.bulk_rows) if args.bulk_rows else []
    ages = [age for age, _ in samples]
    counts = [float(count) for _, count in samples]
    tps = next((line.split("=")[1].split()[0] for line in out.splitlines() if line.startswith("tps =")), "?")
    lines = [
        f"{args.clients} clients, {args.duration} s, {tps} tps; follower: {follower.first_line}",
        f"age of the oldest unsealed event, {len(ages)} samples: max {max(ages, default=0):.2f} s, "
        f"p99 {percentile(ages, 0.99):.2f}, p50 {statistics.median(ages) if ages else 0:.2f}",
        f"unsealed events: max {max(counts, default=0):.0f}, p50 {statistics.median(counts) if counts else 0:.0f}",
        f"after pgbench stopped and {SEAL_FOLLOW_INTERVAL * 2:g} s: {after.count} events unsealed",
        *(f"{b['operation']} of {b['rows']:,} rows on an idle database: {b['statement_seconds']:.2f} s; all sealed "
          f"{b['sealed_after_commit_seconds']:.2f} s after its commit (target {BULK_SEALED_TARGET:g} s: "
          f"{'PASS' if b['target_met'] else 'MISS'})" for b in bulk),
        f"follower: {follower.last_line} (exit {follower.exit_code})",
    ]
    print("\n".join(lines))
    if args.json:
        results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "source": source_revision(),
                                   "kit_revision": revision, "machine": machine, "args": vars(args),
                                   "samples": samples, "bulk": bulk, "report": lines}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
