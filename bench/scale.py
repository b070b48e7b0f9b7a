"""The lifecycle at scale (issue 16, item 4): millions of changes through the audited write path, sealed by the
follower, checkpointed, verified, reviewed, archived and half retired, on one throwaway server.

    python -m bench.scale --changes 10000000 --json bench/scale.json   # from the repo root

Writing, in rounds until --changes events are recorded (compressed time: a day's writes in minutes):
one INSERT ... SELECT of --bulk-rows new rows into bench_bulk (statement capture: chunks), one UPDATE of
those rows, then --tpcb-seconds of pgbench tpcb-like at --clients clients (row capture: four events a
transaction). `pgaudit-kit seal --follow` runs throughout; the backlog (committed events not sealed) is
sampled every second. Then, each timed:

* sealed: from the end of writing until nothing is left unsealed;
* storage: the kit's relations (tables with their indexes and TOAST) divided by the changes recorded;
* checkpoint; `verify --full` (a child process: wall time and peak memory); one more round of writes,
  a checkpoint and an incremental `verify --state` (only what is new);
* review, on the newest data: the history of a bench_bulk row and of a pgbench_accounts row changed in the
  last round, the first page of `log --table bench_bulk --since` the last round, and `tx` of the last
  pgbench transaction (bench.review's calls, median of 5 each, the review record included);
* the oldest half: a checkpoint is taken in the first round that ends past half the changes; at the end, an
  archive through it (`pgaudit-kit archive`: wall time, bundle bytes), `verify-archive` (wall time, peak
  memory) and `retire` of it (wall time: it verifies the archive and, incrementally, the database first;
  events removed), with a retention period of one second;
* after the retirement: `verify --full` of what remains, and the archive of the rest (it starts where the
  retired half ends) with its `verify-archive`.

History is partitioned (revision 0013): the partitions before and after the retirement are reported, and the
event rows the retirement deleted (partitions it could not drop whole: dead until VACUUM).

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.backlog import percentile, sample, seconds_until_sealed
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
    write_run,
)
from bench.reference import kit_storage, seal_follower
from bench.review import run_history, run_log, run_tx, timed
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.review.query import EventFilter
from pgaudit_kit.review.timeparse import parse_time
from pgaudit_kit.schema import installer

DATABASE = "scale"
# Peak memory of one child process only: the command runs under a small Python that reports its children's.
PEAK_RSS = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, file=sys.stderr); "
            "sys.exit(done.returncode)")


def kit(server: TempServer, *args: str) -> tuple[float, int, str]:
    """`pgaudit-kit ARGS` against the scale database: (seconds, peak RSS bytes, stdout). Raises on exit > 1."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "pgaudit_kit",
                           "--dsn", server.dsn(DATABASE), *args], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode > 1:
        raise RuntimeError(f"pgaudit-kit {args[0]} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds, int(done.stderr.strip().splitlines()[-1]), done.stdout


def recorded(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT (SELECT count(*) FROM pgaudit_kit.event) + "
                       "(SELECT COALESCE(sum(n_events), 0) FROM pgaudit_kit.event_chunk)").fetchone()
    return int(row[0]) if row else 0


def event_partitions(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Each partition of the event table: name, range and events (counted)."""
    found = []
    for name, lower, upper in conn.execute("SELECT name, lower_id, upper_id FROM pgaudit_kit.event_partitions()"
                                           ).fetchall():
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("pgaudit_kit", name))).fetchone()
        found.append({"name": name, "lower_id": lower, "upper_id": upper, "events": int(count[0]) if count else 0})
    conn.commit()
    return found


def deleted_event_rows(conn: psycopg.Connection[Any]) -> int:
    """Rows deleted from the event table's partitions (the statistics collector's count, all time)."""
    row = conn.execute("SELECT COALESCE(sum(n_tup_del), 0) FROM pg_stat_user_tables WHERE schemaname = 'pgaudit_kit' "
                       "AND relname LIKE 'event%' AND relname <> 'event_chunk'").fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def dropped_partitions(retire: dict[str, Any]) -> list[str]:
    return sorted({p["name"] for p in retire["partitions_before"]} - {p["name"] for p in retire["partitions_after"]})


def write_round(server: TempServer, conn: psycopg.Connection[Any], first_id: int, args: argparse.Namespace) -> None:
    """One round of the mix: a bulk INSERT ... SELECT, an UPDATE of its rows, a pgbench run."""
    last_id = first_id + args.bulk_rows - 1
    insert_select(conn, BULK_TABLE, first_id, args.bulk_rows)
    conn.execute(sql.SQL("UPDATE {} SET delta = delta + 1 WHERE id BETWEEN %s AND %s").format(
        sql.Identifier(BULK_TABLE)), (first_id, last_id))
    run_pgbench(server, DATABASE, ["-n", "-c", str(args.clients), "-j", "2", "-T", str(args.tpcb_seconds)])


def review_times(conn: psycopg.Connection[Any], round_started: str, bulk_id: int) -> dict[str, Any]:
    """Review calls on the newest round's data, median of 5 each."""
    account = conn.execute("SELECT pk->>'aid' FROM pgaudit_kit.event WHERE table_name = 'pgbench_accounts' "
                           "ORDER BY id DESC LIMIT 1").fetchone()
    last_tx = conn.execute("SELECT xid::text::int8 FROM pgaudit_kit.event WHERE table_name = 'pgbench_history' "
                          "ORDER BY id DESC LIMIT 1").fetchone()
    conn.rollback()
    assert account is not None and last_tx is not None
    since = EventFilter(tables=(f"public.{BULK_TABLE}",), since=parse_time(round_started, "--since"))
    calls: dict[str, Callable[[int], tuple[str, Callable[[io.BytesIO], Any]]]] = {
        "history bench_bulk row": lambda i: (f"history {bulk_id + i}",
                                             lambda out: run_history(conn, f"public.{BULK_TABLE}", str(bulk_id + i),
                                                                     out)),
        "history pgbench_accounts row": lambda i: (f"history {account[0]}",
                                                   lambda out: run_history(conn, "public.pgbench_accounts",
                                                                           str(account[0]), out)),
        "log --table bench_bulk --since (first page)": lambda i: ("log", lambda out: run_log(conn, since, out)),
        "tx of the last pgbench transaction": lambda i: (f"tx {last_tx[0]}",
                                                         lambda out: run_tx(conn, int(last_tx[0]), out)),
    }
    return {name: timed(5, make) for name, make in calls.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=10_000_000, help="events to record (default 10,000,000)")
    parser.add_argument("--bulk-rows", type=int, default=1_000_000, help="rows of each bulk statement")
    parser.add_argument("--tpcb-seconds", type=int, default=60, help="pgbench seconds a round (default 60)")
    parser.add_argument("--clients", type=int, default=8, help="pgbench clients (default 8)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    samples: list[tuple[float, int]] = []
    work = Path(tempfile.mkdtemp(prefix="pgaudit-kit-scale-"))
    with TempServer(settings=DURABLE_SETTINGS) as server:
        create_pgbench_databases(server, [DATABASE], args.scale)
        revision = installer.install(connector(server.dsn(DATABASE))).after
        machine = machine_info(server)
        with connect(server, DATABASE) as conn:
            enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row"))
            enable_tables(conn, [BULK_TABLE], CaptureOptions())
            before = kit_storage(conn)
            subprocess.run([sys.executable, "-m", "pgaudit_kit", "keygen", "--out", str(work / "scale")],
                           check=True, capture_output=True)
            key, public = str(work / "scale.key"), str(work / "scale.pub")
            with seal_follower(server, DATABASE) as follower:
                stop = threading.Event()
                sampler = threading.Thread(target=sample, args=(server.dsn(DATABASE), 1.0, stop, samples))
                sampler.start()
                started, next_id, rounds, half = time.monotonic(), 1, 0, 0
                try:
                    while (done := recorded(conn)) < args.changes:
                        log(f"round {rounds + 1}: {done:,} events recorded so far")
                        round_started = datetime.now(UTC).isoformat()
                        write_round(server, conn, next_id, args)
                        next_id += args.bulk_rows
                        rounds += 1
                        if not half and recorded(conn) >= args.changes // 2:  # the end of the oldest half
                            half = json.loads(kit(server, "checkpoint", "--key", key, "--format", "json")[2])[
                                "tree_size"]
                    written = time.monotonic() - started
                    results["sealed_after_writing_seconds"] = seconds_until_sealed(conn, 3600)
                finally:
                    stop.set()
                    sampler.join()
                results["write"] = {"rounds": rounds, "seconds": written, "events": recorded(conn),
                                    "events_per_second": recorded(conn) / written}
                ages = [age for age, _ in samples]
                results["backlog_age_seconds"] = {"max": max(ages, default=0.0), "p99": percentile(ages, 0.99),
                                                  "p50": statistics.median(ages) if ages else 0.0}
                results["storage"] = {"bytes_per_change": {
                    name: (size - before.sizes.get(name, 0)) / results["write"]["events"]
                    for name, size in kit_storage(conn).sizes.items()}}
                results["storage"]["total_bytes_per_change"] = sum(results["storage"]["bytes_per_change"].values())
                log("checkpoint and verify --full")
                results["checkpoint_seconds"] = kit(server, "checkpoint", "--key", key)[0]
                seconds, rss, _ = kit(server, "verify", "--full", "--public-key", public,
                                      "--state", str(work / "scale.state"))
                results["verify_full"] = {"seconds": seconds, "peak_rss_bytes": rss}
                log("one more round, checkpoint, incremental verify")
                round_started = datetime.now(UTC).isoformat()
                write_round(server, conn, next_id, args)
                seconds_until_sealed(conn, 3600)
                kit(server, "checkpoint", "--key", key)
                seconds, rss, _ = kit(server, "verify", "--public-key", public, "--state", str(work / "scale.state"))
                results["verify_incremental"] = {"seconds": seconds, "peak_rss_bytes": rss,
                                                 "events_added": args.bulk_rows * 2}
            log("review on the newest data")
            with psycopg.connect(server.dsn(DATABASE)) as reader:  # the review calls open their own transactions
                results["review"] = review_times(reader, round_started, next_id)
            log("archive, verify-archive and retire the oldest half")
            results["archive"], results["verify_archive"] = archive(server, work / "oldest", half - 1, public)
            kit(server, "retention", "--set", "1 second")
            time.sleep(1.1)
            partitions_before = event_partitions(conn)
            seconds, rss, out = kit(server, "retire", "--archive", str(work / "oldest"), "--public-key", public,
                                    "--state", str(work / "scale.state"), "--format", "json")
            retired = json.loads(out)
            results["retire"] = {"seconds": seconds, "peak_rss_bytes": rss, "tree_size": retired["tree_size"],
                                 "events_removed": retired["events_removed"], "retired": retired["retired"],
                                 "partitions_before": partitions_before, "partitions_after": event_partitions(conn),
                                 "event_rows_deleted": deleted_event_rows(conn)}
            log("after the retirement: verify --full, archive the rest")
            seconds, rss, out = kit(server, "verify", "--full", "--public-key", public, "--format", "json")
            results["verify_full_after_retire"] = {"seconds": seconds, "peak_rss_bytes": rss,
                                                   "events": json.loads(out)["events_checked"],
                                                   "clean": json.loads(out)["clean"]}
            results["archive_rest"], results["verify_archive_rest"] = archive(server, work / "rest", None, public)
            results["follower"] = {"first_line": follower.first_line, "last_line": follower.last_line,
                                   "exit_code": follower.exit_code}
    shutil.rmtree(work, ignore_errors=True)
    lines = report(results)
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, vars(args), results=results, report=lines)
    return 0


def archive(server: TempServer, out: Path, through: int | None, public: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """`archive` through seq *through* (None: everything checkpointed) into *out*, then `verify-archive` of it."""
    seconds, rss, text = kit(server, "archive", "--through", "2999-12-31" if through is None else str(through),
                             "--out", str(out), "--public-key", public, "--format", "json")
    archived = json.loads(text)
    size = sum(p.stat().st_size for p in out.iterdir())
    made = {"seconds": seconds, "peak_rss_bytes": rss, "events": archived["events_checked"],
            "start_size": archived["start_size"], "tree_size": archived["tree_size"], "clean": archived["clean"],
            "bytes": size, "bytes_per_event": size / max(archived["events_checked"], 1)}
    seconds, rss, _ = kit(server, "verify-archive", str(out), "--public-key", public)
    return made, {"seconds": seconds, "peak_rss_bytes": rss}


def report(r: dict[str, Any]) -> list[str]:
    mib = 1024 * 1024
    lines = [
        f"written: {r['write']['events']:,} events in {r['write']['rounds']} rounds, {r['write']['seconds']:.0f} s "
        f"({r['write']['events_per_second']:,.0f} events/s); all sealed {r['sealed_after_writing_seconds']:.1f} s "
        "after the last write",
        f"backlog age while writing: max {r['backlog_age_seconds']['max']:.1f} s, p99 "
        f"{r['backlog_age_seconds']['p99']:.1f}, p50 {r['backlog_age_seconds']['p50']:.1f}",
        f"storage: {r['storage']['total_bytes_per_change']:.0f} bytes per change ("
        + ", ".join(f"{name} {size:.0f}" for name, size in sorted(r["storage"]["bytes_per_change"].items()) if size)
        + ")",
        f"checkpoint {r['checkpoint_seconds']:.1f} s; verify --full {r['verify_full']['seconds']:.0f} s, peak "
        f"{r['verify_full']['peak_rss_bytes'] / mib:.0f} MiB; incremental verify of "
        f"{r['verify_incremental']['events_added']:,} new events {r['verify_incremental']['seconds']:.1f} s, peak "
        f"{r['verify_incremental']['peak_rss_bytes'] / mib:.0f} MiB",
        *(f"review {name}: median {t['median_ms']:.1f} ms (read {t['read_median_ms']:.1f} ms)"
          for name, t in r["review"].items()),
        *_archive_lines("archive of the oldest half", r["archive"], r["verify_archive"]),
        f"retire of the oldest half (through tree size {r['retire']['tree_size']:,}): "
        f"{r['retire']['events_removed']:,} events removed in {r['retire']['seconds']:.0f} s (archive and "
        f"database verified first), peak {r['retire']['peak_rss_bytes'] / mib:.0f} MiB, "
        f"{'retired' if r['retire']['retired'] else 'REFUSED'}; partitions dropped: "
        f"{dropped_partitions(r['retire'])}, event rows deleted: {r['retire']['event_rows_deleted']:,}",
        f"verify --full after it: {r['verify_full_after_retire']['events']:,} events in "
        f"{r['verify_full_after_retire']['seconds']:.0f} s, peak "
        f"{r['verify_full_after_retire']['peak_rss_bytes'] / mib:.0f} MiB, "
        f"{'clean' if r['verify_full_after_retire']['clean'] else 'FINDINGS'}",
        *_archive_lines("archive of the rest", r["archive_rest"], r["verify_archive_rest"]),
    ]
    return lines


def _archive_lines(what: str, made: dict[str, Any], checked: dict[str, Any]) -> list[str]:
    mib = 1024 * 1024
    return [f"{what}: {made['events']:,} events (tree {made['start_size']:,}..{made['tree_size']:,}) in "
            f"{made['seconds']:.0f} s, {made['bytes'] / mib:.0f} MiB ({made['bytes_per_event']:.0f} bytes an event), "
            f"peak {made['peak_rss_bytes'] / mib:.0f} MiB, {'clean' if made['clean'] else 'FINDINGS'}; "
            f"verify-archive {checked['seconds']:.0f} s, peak {checked['peak_rss_bytes'] / mib:.0f} MiB"]


if __name__ == "__main__":
    sys.exit(main())
