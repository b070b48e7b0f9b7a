"""How soon does an alert arrive? From the commit of a matching write to its delivery at a local webhook,
idle and under pgbench load (issue 18: median under 1 s at 16 clients).

    python -m bench.alerts_latency --clients 16 --duration 30 --json bench/alerts_latency.json   # repo root

One throwaway server (durable settings) holds a pgbench database with the kit installed, its tables enrolled
for row capture and a probe table; `pgaudit-kit seal --follow` runs throughout (as in production), and so does
`pgaudit-kit alerts` (the real command, a child process) with one rule that fires on every write to the probe
table without an allowed actor, delivering to a webhook served by this script (HMAC-checked). A probe writes
one row every --probe-every seconds in its own transaction and notes when its COMMIT returned; the receiver
notes when each alert arrived. Latency = arrival - commit, both on this machine's monotonic clock. Measured
first on the idle database, then while pgbench tpcb-like runs at --clients (the alerts process then reads
every pgbench event too: its rule watches writes, and the probe's are among them).

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.backlog import percentile
from bench.capture import (
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    connect,
    create_pgbench_databases,
    log,
    machine_info,
    run_pgbench,
    write_run,
)
from bench.reference import REPO_ROOT, seal_follower
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

DATABASE = "alerts"
SECRET = "bench-secret"
TARGET_MEDIAN = 1.0  # seconds, under 16-client load


class Receiver:
    """The webhook: the arrival time of each alert by the probe row's id."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.bad = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.monotonic()
                signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Pgaudit-Kit-Signature", ""), signature):
                    receiver.bad += 1
                else:
                    record = json.loads(body)
                    receiver.arrived.setdefault(int(record["event"]["pk"]["id"]), now)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


def probe(dsn_conn: Any, first: int, seconds: float, every: float) -> dict[int, float]:
    """Insert probe rows, one a transaction, every *every* seconds for *seconds*; their commit times."""
    committed: dict[int, float] = {}
    deadline = time.monotonic() + seconds
    row = first
    while time.monotonic() < deadline:
        dsn_conn.execute("INSERT INTO alert_probe VALUES (%s)", (row,))
        committed[row] = time.monotonic()
        row += 1
        time.sleep(every)
    return committed


def latencies(committed: dict[int, float], receiver: Receiver, wait: float = 30.0) -> tuple[list[float], int]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not all(r in receiver.arrived for r in committed):
        time.sleep(0.1)
    found = [receiver.arrived[r] - at for r, at in committed.items() if r in receiver.arrived]
    return found, sum(1 for r in committed if r not in receiver.arrived)


def summary(name: str, values: list[float], missing: int) -> dict[str, Any]:
    return {"phase": name, "alerts": len(values), "missing": missing,
            "median": statistics.median(values) if values else None, "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99), "max": max(values, default=0.0)}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="pgbench clients (default 16)")
    parser.add_argument("--duration", type=int, default=30, help="seconds of each phase (default 30)")
    parser.add_argument("--probe-every", type=float, default=0.2, help="seconds between probe writes (default 0.2)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    receiver = Receiver()
    with TempServer(settings=DURABLE_SETTINGS) as server, tempfile.TemporaryDirectory() as scratch:
        create_pgbench_databases(server, [DATABASE], args.scale)
        revision = installer.install(connector(server.dsn(DATABASE))).after
        with connect(server, DATABASE) as conn:
            conn.execute("CREATE TABLE alert_probe (id int PRIMARY KEY)")
            enable_tables(conn, [*PGBENCH_TABLES, "alert_probe"], CaptureOptions(capture_mode="row"))
        rules = Path(scratch) / "alerts.toml"
        rules.write_text(f'[sink.hook]\ntype = "webhook"\nurl = "{receiver.url}"\nsecret_env = "BENCH_SECRET"\n'
                         '[[rule]]\nname = "probe"\nkind = "actor"\ntables = ["public.alert_probe"]\n'
                         'allow_actors = ["nobody"]\n')
        machine = machine_info(server)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, "BENCH_SECRET": SECRET}
        with seal_follower(server, DATABASE):
            alerts = subprocess.Popen([sys.executable, "-m", "pgaudit_kit", "--dsn", server.dsn(DATABASE), "alerts",
                                       "--rules", str(rules), "--state", str(Path(scratch) / "alerts.state")],
                                      stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
            notes: list[str] = []
            try:
                assert alerts.stderr is not None
                first = alerts.stderr.readline().strip()
                log(f"  alerts, pid {alerts.pid}: {first}")
                # read on, so that a full pipe never stops the process
                threading.Thread(target=lambda: notes.extend(alerts.stderr or ()), daemon=True).start()
                with connect(server, DATABASE) as conn:
                    log(f"idle: a probe write every {args.probe_every:g} s for {args.duration} s")
                    idle, idle_missing = latencies(probe(conn, 1, args.duration, args.probe_every), receiver)
                    log(f"pgbench tpcb-like, {args.clients} clients, {args.duration} s, with the probe")
                    result: dict[str, str] = {}
                    load = threading.Thread(target=lambda: result.update(out=run_pgbench(
                        server, DATABASE, ["-n", "-c", str(args.clients), "-j", "2", "-T", str(args.duration)])))
                    load.start()
                    busy_commits = probe(conn, 1_000_000, args.duration - 1, args.probe_every)
                    load.join()
                    busy, busy_missing = latencies(busy_commits, receiver)
            finally:
                alerts.terminate()
                alerts.wait(timeout=60)
                if notes:
                    log("  alerts said:\n" + "".join(notes))
    out = result.get("out", "")
    tps = next((line.split("=")[1].split()[0] for line in out.splitlines() if line.startswith("tps =")), "?")
    phases = [summary("idle", idle, idle_missing), summary(f"{args.clients} clients", busy, busy_missing)]
    lines = [f"alerts from commit to webhook delivery ({tps} tps under load; {receiver.bad} bad signatures):"]
    for p in phases:
        lines.append(f"  {p['phase']}: {p['alerts']} alerts, {p['missing']} missing; median {p['median'] or 0:.3f} s, "
                     f"p95 {p['p95']:.3f}, p99 {p['p99']:.3f}, max {p['max']:.3f}")
    met = phases[1]["median"] is not None and phases[1]["median"] < TARGET_MEDIAN and not busy_missing
    lines.append(f"target: median under {TARGET_MEDIAN:g} s under load, none missing: {'PASS' if met else 'MISS'}")
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, vars(args), tps=tps, phases=phases, report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
