"""Integrity costs: verify speed and memory, the unsealed backlog under load, and a mixed load that
must leave a gapless log that verifies clean.

    python -m bench.integrity --small 500000 --large 5000000 --json bench/integrity.json   # repo root

Measured:
  * `verify --full` events per second, and its peak memory (RSS of the verifying process) on a log of
    SMALL events and on one of LARGE events: constant memory means the two are about equal;
  * pgbench tpcb-like at 16 clients on the audited database with sealing active (piggy-backed at
    commit), the baseline in the same run, and the largest unsealed backlog seen, sampled every 0.5 s;
  * a 16-client mixed load (tpcb-like DML, TRUNCATE of an enrolled table, ALTER TABLE on an enrolled
    table, while `seal` and `checkpoint` run concurrently), then one final seal: the log must be
    gapless (blocks contiguous, every event sealed once) and `verify --full` clean.

Not a test: nothing here asserts; it prints PASS/MISS against the project's targets.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from bench.capture import DURABLE_SETTINGS, PGBENCH_TABLES, connect, log, machine_info, parse_number, run_pgbench
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.core import signing
from pgaudit_kit.log import sealing
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

VERIFY_RATE_TARGET = 300_000.0
MEMORY_RATIO_TARGET = 1.2
BACKLOG_TARGET_S = 5.0
TPCB_16_TARGET = 0.55

FILL_SQL = """
INSERT INTO bench_log (id, account, amount, note, at)
SELECT g, 'acct-' || (g %% 1000), (g %% 997) * 1.25, 'note ' || md5(g::text), now()
  FROM generate_series(%s::bigint, %s::bigint) g
"""


def verify_in_subprocess(dsn: str) -> tuple[float, int, int]:
    """Run `pgaudit-kit verify --full` in a child process: (seconds, events checked, peak RSS bytes)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pgaudit_kit", "--dsn", dsn, "verify", "--full", "--format", "json"],
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    report = json.loads(done.stdout)
    if done.returncode != 0:
        raise RuntimeError(f"verify found problems: {report['finding_counts']}")
    return seconds, int(report["events_checked"]), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def fill(conn: psycopg.Connection[Any], events: int, batch: int = 20_000) -> None:
    """Record about *events* inserts in transactions of *batch* rows, sealing as it goes."""
    done = conn.execute("SELECT count(*) FROM bench_log").fetchone()
    first = int(done[0]) if done else 0
    for lo in range(first + 1, first + events + 1, batch):
        with conn.transaction():
            conn.execute(FILL_SQL, (lo, min(lo + batch - 1, first + events)))
        if (lo // batch) % 10 == 0:
            sealing.seal(conn)
    sealing.seal(conn)


def verify_scaling(server: TempServer, small: int, large: int) -> dict[str, Any]:
    """Peak memory must not grow with the log: measure the same verify on SMALL, then LARGE events.

    Each size runs in a fresh child (RUSAGE_CHILDREN keeps the maximum over children, so the small run
    goes first and the large run's peak is read as the new maximum)."""
    with connect(server, "postgres") as admin:
        admin.autocommit = True
        admin.execute("CREATE DATABASE verify_bench")
    dsn = server.dsn("verify_bench")
    installer.install(connector(dsn))
    results: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_log (id bigint PRIMARY KEY, account text, amount numeric, note text, "
                      "at timestamptz)")
        enable_tables(conn, ["bench_log"], CaptureOptions())
        for label, size in (("small", small), ("large", large)):
            log(f"filling the log to {size:,} events ...")
            count = conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
            fill(conn, size - (int(count[0]) if count else 0))
            conn.execute("VACUUM ANALYZE pgaudit_kit.event")
            log(f"verify --full on {size:,} events ...")
            seconds, checked, rss = verify_in_subprocess(dsn)
            results[label] = {"events": checked, "seconds": round(seconds, 2),
                              "events_per_second": round(checked / seconds), "peak_rss_mib": round(rss / 2**20, 1)}
            log(f"  {checked:,} events in {seconds:.1f}s = {checked / seconds:,.0f}/s, peak RSS {rss / 2**20:.1f} MiB")
    results["memory_ratio"] = round(results["large"]["peak_rss_mib"] / results["small"]["peak_rss_mib"], 3)
    return results


def backlog_sampler(dsn: str, stop: threading.Event, worst: list[float]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            age = sealing.backlog(conn).age_seconds
            worst[0] = max(worst[0], age or 0.0)
            time.sleep(0.5)


def tpcb_with_sealing(server: TempServer, duration: int, scale: int) -> dict[str, Any]:
    for database in ("baseline", "audited"):
        with connect(server, "postgres") as admin:
            admin.autocommit = True
            admin.execute(f"CREATE DATABASE {database}")
        run_pgbench(server, database, ["-i", "-q", "-s", str(scale)])
    installer.install(connector(server.dsn("audited")))
    with psycopg.connect(server.dsn("audited"), autocommit=True) as conn:
        enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions())
    tps: dict[str, float] = {}
    worst = [0.0]
    for database in ("baseline", "audited"):
        with psycopg.connect(server.dsn(database), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        stop = threading.Event()
        sampler = threading.Thread(target=backlog_sampler, args=(server.dsn("audited"), stop, worst))
        if database == "audited":
            # the enrolment's own events waited through the baseline run: seal them, as cron would on an
            # idle database, so the sampled backlog is the one the load itself leaves
            with psycopg.connect(server.dsn("audited")) as conn:
                sealing.seal(conn)
            sampler.start()
        out = run_pgbench(server, database, ["-c", "16", "-j", "2", "-T", str(duration), "-n"])
        stop.set()
        if database == "audited":
            sampler.join()
        tps[database] = parse_number(r"tps = ([0-9.]+) \(without initial connection time\)", out)
        log(f"  {database}: {tps[database]:.0f} tps")
    return {"baseline_tps": round(tps["baseline"]), "audited_tps": round(tps["audited"]),
            "ratio": round(tps["audited"] / tps["baseline"], 3), "max_unsealed_age_s": round(worst[0], 2)}


MIXED_SCRIPTS = {
    "dml.sql": """\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
SELECT set_config('pgaudit_kit.actor', 'bench-' || :client_id, true);
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
INSERT INTO scratch (v) VALUES (:delta);
END;
""",
    "truncate.sql": "TRUNCATE scratch;\n",
    "ddl.sql": ("ALTER TABLE scratch ADD COLUMN IF NOT EXISTS extra int;\n"
                "ALTER TABLE scratch DROP COLUMN IF EXISTS extra;\n"),
}


def mixed_load(server: TempServer, duration: int) -> dict[str, Any]:
    dsn = server.dsn("audited")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE scratch (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int)")
        enable_tables(conn, ["scratch"], CaptureOptions())
    folder = Path(tempfile.mkdtemp(prefix="pgaudit-kit-bench-"))
    key = signing.generate("bench")
    for name, text in MIXED_SCRIPTS.items():
        (folder / name).write_text(text)
    stop = threading.Event()
    checkpoints = [0]

    def sealer() -> None:
        with psycopg.connect(dsn) as conn:
            while not stop.is_set():
                sealing.checkpoint(conn, key, folder / "anchors")
                checkpoints[0] += 1
                time.sleep(1.0)

    thread = threading.Thread(target=sealer)
    thread.start()
    out = run_pgbench(server, "audited", [
        "-c", "16", "-j", "2", "-T", str(duration), "-n", "--max-tries=10",
        "-f", f"{folder / 'dml.sql'}@96", "-f", f"{folder / 'truncate.sql'}@2", "-f", f"{folder / 'ddl.sql'}@2"])
    stop.set()
    thread.join()
    with psycopg.connect(dsn) as conn:
        sealing.seal(conn)
        row = conn.execute("""
            SELECT (SELECT count(*) FROM pgaudit_kit.event),
                   (SELECT max(tree_size) FROM pgaudit_kit.block),
                   (SELECT bool_and(first_seq = COALESCE(prev_size, 0)) FROM
                       (SELECT first_seq, lag(tree_size) OVER (ORDER BY block_no) AS prev_size
                          FROM pgaudit_kit.block) b),
                   (SELECT count(*) = count(DISTINCT i) FROM pgaudit_kit.block, unnest(event_ids) i)""").fetchone()
    assert row is not None
    seconds, checked, _ = verify_in_subprocess(dsn)
    return {"transactions": int(parse_number(r"number of transactions actually processed: (\d+)", out)),
            "events": int(row[0]), "sealed": int(row[1] or 0), "blocks_contiguous": bool(row[2]),
            "each_event_sealed_once": bool(row[3]), "checkpoints": checkpoints[0], "verify_clean": True,
            "verify_seconds": round(seconds, 2), "verified_events": checked}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=500_000)
    parser.add_argument("--large", type=int, default=5_000_000)
    parser.add_argument("--duration", type=int, default=60, help="seconds of pgbench and of the mixed load")
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--parts", default="load,verify", help="load (tpcb + mixed), verify (speed and memory)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {}
    with TempServer(settings=DURABLE_SETTINGS) as server:
        results["machine"] = machine_info(server)
        if "load" in parts:
            log("tpcb-like at 16 clients with sealing active ...")
            results["tpcb_16_with_sealing"] = tpcb_with_sealing(server, args.duration, args.scale)
            log("mixed load ...")
            results["mixed_load"] = mixed_load(server, args.duration)
        if "verify" in parts:
            results["verify"] = verify_scaling(server, args.small, args.large)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    verdict = {True: "PASS", False: "MISS"}
    if "load" in parts:
        t, m = results["tpcb_16_with_sealing"], results["mixed_load"]
        print(f"tpcb-like 16 clients, sealing on: {t['ratio']:.2f}x baseline (target >= {TPCB_16_TARGET}) "
              f"{verdict[t['ratio'] >= TPCB_16_TARGET]}")
        print(f"max unsealed backlog under that load: {t['max_unsealed_age_s']:.1f}s (target < {BACKLOG_TARGET_S}) "
              f"{verdict[t['max_unsealed_age_s'] < BACKLOG_TARGET_S]}")
        print(f"mixed load: {m['transactions']} transactions, {m['events']} events, {m['checkpoints']} checkpoints; "
              f"gapless={m['blocks_contiguous'] and m['each_event_sealed_once']}, verify clean={m['verify_clean']}")
    if "verify" not in parts:
        return 0
    v = results["verify"]
    for label in ("small", "large"):
        r = v[label]
        print(f"verify --full {r['events']:,} events: {r['events_per_second']:,}/s "
              f"(target >= {VERIFY_RATE_TARGET:,.0f}) {verdict[r['events_per_second'] >= VERIFY_RATE_TARGET]}, "
              f"peak RSS {r['peak_rss_mib']} MiB")
    print(f"memory large/small: {v['memory_ratio']}x (target <= {MEMORY_RATIO_TARGET}) "
          f"{verdict[v['memory_ratio'] <= MEMORY_RATIO_TARGET]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
