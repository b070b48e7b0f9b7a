"""Review at scale (issue 19, item 4): the commands' server and wall time on a 10,000,000-event log, exports
against COPY of the same rows, and CLI start-up; the kit of another tree (--before-tree) on the same log in
the same run.

    python -m bench.review_scale --events 10000000 --before-tree /tmp/kit-before --json bench/review_scale.json

The log is tests/support/large_log.py's (20 tables, 500 actors, 30 days, keys spread at random so a row's
events lie anywhere, from the start to the end), in partitions of --partition-events events. Each case runs
the real command line (``python -m pgaudit_kit --dsn ... log ...``, its output read from a pipe) RUNS times
per tree, trees alternating. Server time is what pg_stat_statements counts for the run (planning and
execution of every statement), without the review record (the INSERT through pgaudit_kit.record_review and
its COMMIT, which waits for the WAL flush); wall time is the whole command, interpreter start included.
Keys, transactions and request ids are taken at the start, the middle and the end of the log.

The review record's sealing at commit (pgaudit_kit.seal_at_commit: it seals what is waiting when no follower
runs) counts with the record.

Targets (2-core machine): history and log --pk under 20 ms of server time, every filtered first page under
100 ms, csv and jsonl exports at least 0.7x the rate of ``COPY (...) TO STDOUT (FORMAT csv)`` of the same
rows, ``pgaudit-kit --version`` under 150 ms. Nothing here asserts; it prints PASS/MISS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from bench.capture import DURABLE_SETTINGS, connect, log, machine_info, write_run
from pgaudit_kit.pg import db
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.review import export
from pgaudit_kit.review.events import EXPORT_CHUNK, Line, SealResolver
from pgaudit_kit.review.query import SELECT_EVENTS
from pgaudit_kit.schema import installer
from tests.support import large_log

ROOT = Path(__file__).resolve().parent.parent
SERVER_TARGET_MS = {"history": 20.0, "log_pk": 20.0}
PAGE_TARGET_MS = 100.0
# statements of the review record: the INSERT, and the sealing its commit does on the way (seal_at_commit)
RECORD_PARTS = ("record_review", "pgaudit_kit.seal(", "pg_sequence_last_value")
EXPORT_TARGET = 0.7
VERSION_TARGET_MS = 150.0
STATEMENTS_SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "top",
                       "pg_stat_statements.track_planning": "on", "pg_stat_statements.max": "10000"}


def cli(tree: Path, dsn: str, args: Sequence[str]) -> tuple[float, int]:
    """Run the command line of *tree*; (wall seconds, bytes written to stdout). Raises on a failure."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    # from the tree itself: `python -m` puts the working directory ahead of PYTHONPATH
    done = subprocess.run([sys.executable, "-m", "pgaudit_kit", "--dsn", dsn, *args], env=env, cwd=tree,
                          capture_output=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} ({tree}): exit {done.returncode}: {done.stderr.decode()[-400:]}")
    return wall, len(done.stdout)


def server_ms(conn: psycopg.Connection[Any]) -> tuple[float, float]:
    """(server time of the read, of the review record) counted by pg_stat_statements since the last reset."""
    rows = conn.execute(
        "SELECT query, total_exec_time + total_plan_time FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query NOT LIKE '%pg_stat_statements%'").fetchall()
    read = record = 0.0
    for query, ms in rows:
        if any(part in query for part in RECORD_PARTS) or query.strip().upper() == "COMMIT":
            record += float(ms)
        else:
            read += float(ms)
    return read, record


def measure(conn: psycopg.Connection[Any], trees: dict[str, Path], dsn: str, args: Sequence[str],
            runs: int) -> dict[str, Any]:
    found: dict[str, dict[str, list[float]]] = {name: {"wall": [], "server": [], "record": []} for name in trees}
    for tree in trees.values():
        cli(tree, dsn, args)  # warm: the plan's pages in the cache, as for a reviewer's second query
    for _ in range(runs):
        for name, tree in trees.items():
            conn.execute("SELECT pg_stat_statements_reset()")
            wall, _ = cli(tree, dsn, args)
            read, record = server_ms(conn)
            found[name]["wall"].append(wall * 1000)
            found[name]["server"].append(read)
            found[name]["record"].append(record)
    return {name: {"server_ms": round(statistics.median(v["server"]), 1),
                   "wall_ms": round(statistics.median(v["wall"]), 1),
                   "review_record_ms": round(statistics.median(v["record"]), 1),
                   "server_runs_ms": [round(x, 1) for x in v["server"]]} for name, v in found.items()}


def samples(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """A keyed event with a request id at the start, the middle and the end of the log; actors by activity."""
    places = {}
    for place, fraction in (("start", 0.01), ("middle", 0.5), ("end", 0.99)):
        table, pk, xid, request = large_log.keyed_event_at(conn, fraction)
        spread = conn.execute(
            "SELECT count(*), min(id), max(id) FROM pgaudit_kit.event WHERE relid = %s::regclass "
            "AND pg_catalog.jsonb_hash(pk) = pg_catalog.jsonb_hash(jsonb_build_object('id', %s::text)) "
            "AND pk = jsonb_build_object('id', %s::text)", (table, pk, pk)).fetchone()
        assert spread is not None
        places[place] = {"table": table, "pk": pk, "xid": str(xid), "request_id": request,
                         "key_events": int(spread[0]), "key_first_id": int(spread[1]), "key_last_id": int(spread[2])}
    actors = [str(r[0]) for r in conn.execute(
        "SELECT actor FROM pgaudit_kit.transaction WHERE actor IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC"
    ).fetchall()]
    bounds = conn.execute("SELECT min(id), max(id) FROM pgaudit_kit.event").fetchone()
    assert bounds is not None
    return {"places": places, "typical_actor": actors[len(actors) // 2], "rare_actor": actors[-1],
            "first_id": int(bounds[0]), "last_id": int(bounds[1])}


def cases(found: dict[str, Any]) -> dict[str, list[str]]:
    listed: dict[str, list[str]] = {}
    for place, s in found["places"].items():
        listed[f"history {place}"] = ["history", s["table"], s["pk"], "--format", "json"]
        listed[f"log_pk {place}"] = ["log", "--table", s["table"], "--pk", s["pk"], "--format", "json"]
        listed[f"tx {place}"] = ["tx", s["xid"], "--format", "json"]
        listed[f"log_context {place}"] = ["log", "--context", f"request_id={s['request_id']}", "--format", "json"]
    table = found["places"]["middle"]["table"]
    listed["log_table_since_1h"] = ["log", "--table", table, "--since", "1h", "--format", "json"]
    listed["log_table_since_1h_oldest"] = ["log", "--table", table, "--since", "1h", "--order", "oldest",
                                           "--format", "json"]
    listed["log_actor typical"] = ["log", "--actor", found["typical_actor"], "--format", "json"]
    listed["log_actor rare"] = ["log", "--actor", found["rare_actor"], "--format", "json"]
    listed["log_actor_since_1d rare"] = ["log", "--actor", found["rare_actor"], "--since", "1d", "--format", "json"]
    return listed


def copy_rate(conn: psycopg.Connection[Any], table: str, events: int, form: str = "rows") -> dict[str, Any]:
    """COPY of the same rows (the columns the review reads, the same join), to CSV, read and dropped. With *form*
    "json" or "csv", of the lines the export's server formatting makes of them instead (the server's share of
    an export, without the client's: seal statuses, writing)."""
    query: psycopg.sql.Composable = (
        SELECT_EVENTS.format(psycopg.sql.Identifier("pgaudit_kit", "event"))
        + psycopg.sql.SQL(" WHERE e.relid = {}::regclass ORDER BY e.id").format(psycopg.sql.Literal(table)))
    if form != "rows":
        query = (export.csv_lines if form == "csv" else export.json_lines)(query, False)
    started = time.perf_counter()
    size = 0
    statement = psycopg.sql.SQL("COPY (") + query + psycopg.sql.SQL(") TO STDOUT (FORMAT csv)")
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for data in copy:
            size += len(data)
    seconds = time.perf_counter() - started
    return {"rows": events, "bytes": size, "seconds": round(seconds, 2), "rows_per_s": round(events / seconds)}


def seal_rate(conn: psycopg.Connection[Any], table: str, events: int) -> dict[str, Any]:
    """The seal statuses of the same events alone, found as an export finds them (SealResolver, a chunk at a
    time), their ids read beforehand: the client's other share of an export."""
    ids = conn.execute("SELECT id, xid::text FROM pgaudit_kit.event WHERE relid = %s::regclass ORDER BY id",
                       (table,)).fetchall()
    with conn.transaction(force_rollback=True):
        db.begin_consistent_read(conn)
        resolver = SealResolver(conn)
        started = time.perf_counter()
        for first in range(0, len(ids), EXPORT_CHUNK):
            resolver.resolve([Line(event_id, int(xid), "") for event_id, xid in ids[first:first + EXPORT_CHUNK]])
        seconds = time.perf_counter() - started
    return {"rows": events, "seconds": round(seconds, 2), "rows_per_s": round(events / seconds)}


def exports(trees: dict[str, Path], dsn: str, conn: psycopg.Connection[Any], table: str,
            runs: int) -> dict[str, Any]:
    found: dict[str, Any] = {"table": table, "copy": []}
    counted = conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE relid = %s::regclass", (table,)).fetchone()
    assert counted is not None
    events = found["events"] = int(counted[0])
    for _ in range(runs):
        found["copy"].append(copy_rate(conn, table, events))
        # where an export's time goes: the server's formatting alone, the seal statuses alone
        for form in ("json", "csv"):
            found.setdefault(f"server_lines_{form}", []).append(copy_rate(conn, table, events, form))
        found.setdefault("seal_statuses", []).append(seal_rate(conn, table, events))
        for fmt in ("csv", "jsonl"):
            for name, tree in trees.items():
                wall, size = cli(tree, dsn, ["log", "--table", table, "--limit", "0", "--order", "oldest",
                                             "--format", fmt])
                found.setdefault(f"{fmt} {name}", []).append({"seconds": round(wall, 2), "bytes": size,
                                                             "events_per_s": round(events / wall)})
        log(f"  export run: copy {found['copy'][-1]['rows_per_s']:,} rows/s; "
            + "; ".join(f"{k} {v[-1]['events_per_s']:,}/s" for k, v in found.items() if " " in k))
    copy = statistics.median(r["rows_per_s"] for r in found["copy"])
    found["copy_rows_per_s"] = copy
    for part in ("server_lines_json", "server_lines_csv", "seal_statuses"):
        rate = statistics.median(r["rows_per_s"] for r in found[part])
        found[f"{part}_rows_per_s"] = rate
        found[f"{part}_of_copy"] = round(rate / copy, 3)
    for key in [k for k in found if " " in k]:
        rate = statistics.median(r["events_per_s"] for r in found[key])
        found[key] = {"runs": found[key], "events_per_s": rate, "of_copy": round(rate / copy, 3)}
    return found


def startup(trees: dict[str, Path], runs: int) -> dict[str, Any]:
    found: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pgaudit_kit", "--version"], env=env, cwd=tree, check=True,
                           stdout=subprocess.DEVNULL)
            found[name].append((time.perf_counter() - started) * 1000)
    return {name: round(statistics.median(v), 1) for name, v in found.items()}


def report(results: dict[str, Any]) -> str:
    trees = list(results["trees"])
    machine, facts = results["machine"], results["log"]
    lines = [f"review at scale: {facts['events']:,} events over {facts['partitions_holding_events']} partitions, "
             f"{machine.get('cpu_model', '?')}, {machine.get('postgresql', '?')[:18]}",
             "case".ljust(28) + "".join(f"{t + ' server':>16}{t + ' wall':>14}" for t in trees)]
    for case, per in results["queries"].items():
        target = SERVER_TARGET_MS.get(case.split()[0])
        after = per[trees[-1]]["server_ms"]
        verdict = ("PASS" if after < target else "MISS") if target else ("PASS" if after < PAGE_TARGET_MS else "MISS")
        lines.append(case.ljust(28) + "".join(f"{per[t]['server_ms']:>16.1f}{per[t]['wall_ms']:>14.1f}" for t in trees)
                     + f"   {verdict} (< {target or PAGE_TARGET_MS:g} ms server)")
    ex = results["exports"]
    lines.append(f"export of {ex['events']:,} events: COPY {ex['copy_rows_per_s']:,} rows/s; COPY of the "
                 f"server's lines alone: json {ex['server_lines_json_rows_per_s']:,}/s "
                 f"({ex['server_lines_json_of_copy']:.3f}), csv {ex['server_lines_csv_rows_per_s']:,}/s "
                 f"({ex['server_lines_csv_of_copy']:.3f}); seal statuses alone {ex['seal_statuses_rows_per_s']:,}/s "
                 f"({ex['seal_statuses_of_copy']:.3f})")
    for key in [k for k in ex if " " in k]:
        lines.append(f"  {key:20} {ex[key]['events_per_s']:>10,}/s  {ex[key]['of_copy']:.3f} of COPY  "
                     + ("PASS" if ex[key]["of_copy"] >= EXPORT_TARGET else "MISS"))
    lines.append("pgaudit-kit --version: " + ", ".join(f"{t} {ms:.0f} ms" for t, ms in results["startup"].items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the log (default 10,000,000)")
    parser.add_argument("--partition-events", type=int, default=1_000_000,
                        help="events per partition of the event table (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per case and tree, median taken (default 5)")
    parser.add_argument("--export-runs", type=int, default=3, help="runs of each export (default 3)")
    parser.add_argument("--before-tree", type=Path, help="also run the command line of this source tree")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    trees = {"before": args.before_tree.resolve()} if args.before_tree else {}
    trees["after"] = ROOT
    started = time.monotonic()
    results: dict[str, Any] = {"command": " ".join(["python -m bench.review_scale",
                                                    *(argv if argv is not None else sys.argv[1:])]),
                               "trees": {k: str(v) for k, v in trees.items()}}
    with TempServer(settings={**DURABLE_SETTINGS, **STATEMENTS_SETTINGS}) as server:
        with connect(server, "postgres") as admin:
            admin.execute("CREATE DATABASE review")
        dsn = server.dsn("review")
        results["kit_revision"] = installer.install(connector(dsn)).after
        results["machine"] = machine_info(server)
        with connect(server, "review") as conn:
            results["log"] = large_log.generate(conn, args.events, partition_events=args.partition_events, log=log)
            conn.execute("CREATE EXTENSION pg_stat_statements")
            found = samples(conn)
            results["samples"] = found
            results["queries"] = {}
            for case, cli_args in cases(found).items():
                results["queries"][case] = measure(conn, trees, dsn, cli_args, args.runs)
                log(f"  {case:28} " + "  ".join(f"{t}: server {v['server_ms']:.1f} ms, wall {v['wall_ms']:.0f} ms"
                                                for t, v in results["queries"][case].items()))
            results["exports"] = exports(trees, dsn, conn, found["places"]["middle"]["table"], args.export_runs)
        results["startup"] = startup(trees, 15)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    print(report(results))
    if args.json:
        options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        write_run(args.json, results.pop("kit_revision"), results.pop("machine"), options, **results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
