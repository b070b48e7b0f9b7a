"""Where an audited tpcb transaction's time goes: each of the kit's costs removed in turn, in one run.

    python -m bench.ablation --transactions 3000 --repeat 7 --json bench/ablation.json   # from the repo root

pgbench measures what a client sees, with its round trips, commits and the noise of the machine in every
figure. This measures only the server's work: a procedure runs N transactions inside one backend, and the
CPU time that backend used (user + system, from /proc) is divided by N. Two workloads, both measured:
``tpcb`` (the builtin tpcb-like script's five statements, random keys, COMMIT after each) and ``update``
(one UPDATE of a random pgbench_accounts row per transaction, the SERIALIZABLE workload of bench.reference).
One throwaway server without fsync (a commit's wait for the disk is not CPU) holds one pgbench database per
variant, all measured in the same run, in rotated order, --repeat times each; a variant's figure is the
minimum over repetitions (the least disturbed), and the median is shown beside it.

Variants, each removing one more cost than the previous kit variant:
  * ``baseline``          -- no trigger;
  * ``jsonb_trigger``     -- the minimal jsonb row trigger of bench.reference (for scale);
  * ``kit``               -- the kit as a new enrolment gets it: statement capture, writers seal at commit;
  * ``kit_follower``      -- a follower holds the seal lease: writers neither seal nor queue the commit
                             trigger (the follower's own cost per event is measured apart, below);
  * ``kit_row``           -- and row capture (``enable --capture-mode row``);
  * ``kit_row_no_review`` -- and without the review indexes on the event table (event_row_idx,
                             event_ddl_control_idx, and the two BRIN indexes): what review costs writers;
  * ``kit_row_no_txn_idx``-- and without the transaction table's four secondary indexes.
The last two are not configurations anyone should run: they price a part of the kit.

Sealing, the follower's work: the events the kit variant recorded are sealed in one run of
``pgaudit_kit.seal()`` each, timed, and divided by the events sealed.

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from bench.capture import (
    PGBENCH_TABLES,
    connect,
    create_pgbench_databases,
    log,
    machine_info,
    median,
    rotation,
    write_run,
)
from bench.reference import JSONB_TRIGGER, JSONB_TRIGGER_ON
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import FAST_SETTINGS, TempServer
from pgaudit_kit.schema import installer

VARIANTS = ("baseline", "jsonb_trigger", "kit", "kit_follower", "kit_row", "kit_row_no_review", "kit_row_no_txn_idx")
KIT_VARIANTS = VARIANTS[2:]
REVIEW_INDEXES = ("event_row_idx", "event_ddl_control_idx", "event_relid_time_brin")
TXN_INDEXES = ("transaction_acting_role_idx", "transaction_actor_idx", "transaction_context_idx",
               "transaction_set_role_idx")

# The builtin tpcb-like script, and a single-row UPDATE, server-side: no round trips, a COMMIT after each.
WORKLOADS = ("tpcb", "update")
LOOPS = """
CREATE PROCEDURE update_loop(n int) LANGUAGE plpgsql AS $$
DECLARE
  v_accounts int := (SELECT count(*) FROM pgbench_accounts);
  v_aid int;
BEGIN
  FOR i IN 1 .. n LOOP
    v_aid := 1 + floor(random() * v_accounts);  -- random() in the WHERE clause would scan the table
    UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = v_aid;
    COMMIT;
  END LOOP;
END $$;
CREATE PROCEDURE tpcb_loop(n int) LANGUAGE plpgsql AS $$
DECLARE
  v_aid int; v_bid int; v_tid int; v_delta int;
  v_accounts int := (SELECT count(*) FROM pgbench_accounts);
  v_branches int := (SELECT count(*) FROM pgbench_branches);
  v_tellers int := (SELECT count(*) FROM pgbench_tellers);
BEGIN
  FOR i IN 1 .. n LOOP
    v_aid := 1 + floor(random() * v_accounts); v_bid := 1 + floor(random() * v_branches);
    v_tid := 1 + floor(random() * v_tellers); v_delta := floor(random() * 10001) - 5000;
    UPDATE pgbench_accounts SET abalance = abalance + v_delta WHERE aid = v_aid;
    PERFORM abalance FROM pgbench_accounts WHERE aid = v_aid;
    UPDATE pgbench_tellers SET tbalance = tbalance + v_delta WHERE tid = v_tid;
    UPDATE pgbench_branches SET bbalance = bbalance + v_delta WHERE bid = v_bid;
    INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (v_tid, v_bid, v_aid, v_delta, CURRENT_TIMESTAMP);
    COMMIT;
  END LOOP;
END $$;
"""


def prepare(server: TempServer, scale: int) -> str:
    create_pgbench_databases(server, VARIANTS, scale)
    revision = ""
    for name in VARIANTS:
        with connect(server, name) as conn:
            conn.execute(LOOPS)
    with connect(server, "jsonb_trigger") as conn:
        conn.execute(JSONB_TRIGGER)
        for table in PGBENCH_TABLES:
            conn.execute(sql.SQL(JSONB_TRIGGER_ON).format(sql.Identifier(table)))
    for name in KIT_VARIANTS:
        revision = installer.install(connector(server.dsn(name))).after
        row = name.startswith("kit_row")
        with connect(server, name) as conn:
            enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row" if row else None))
            if name != "kit":
                conn.execute("SELECT pgaudit_kit.renew_seal_lease(3600)")
            dropped = (REVIEW_INDEXES if name in ("kit_row_no_review", "kit_row_no_txn_idx") else ()) + (
                TXN_INDEXES if name == "kit_row_no_txn_idx" else ())
            drop_kit_indexes(conn, dropped, "bench.ablation: price the indexes")
    return revision


def drop_kit_indexes(conn: psycopg.Connection[Any], indexes: Sequence[str], why: str) -> None:
    """Drop kit indexes in a maintenance window (the kit refuses DDL on its objects otherwise)."""
    if not indexes:
        return
    with conn.transaction():
        conn.execute("SELECT pgaudit_kit.begin_maintenance(%s)", (why,))
        for index in indexes:
            conn.execute(sql.SQL("DROP INDEX pgaudit_kit.{}").format(sql.Identifier(index)))


def backend_cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_cpu(server: TempServer, name: str, workload: str, transactions: int) -> float:
    """Backend CPU microseconds per transaction of one server-side loop, in a fresh session."""
    procedure = sql.Identifier(f"{workload}_loop")
    with psycopg.connect(server.dsn(name), autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        conn.execute(sql.SQL("CALL {}(200)").format(procedure))  # plans cached, catalog caches warm
        before = backend_cpu_seconds(row[0])
        conn.execute(sql.SQL("CALL {}(%s)").format(procedure), (transactions,))
        return (backend_cpu_seconds(row[0]) - before) / transactions * 1e6


def measure(server: TempServer, workload: str, transactions: int, repeat: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for rep in range(repeat):
        for name in rotation(VARIANTS, rep):
            runs[name].append(loop_cpu(server, name, workload, transactions))
        log(f"{workload} repetition {rep + 1}: " + ", ".join(f"{n} {runs[n][-1]:.0f}" for n in VARIANTS))
    return runs


def sealing_cost(server: TempServer) -> dict[str, float]:
    """What the follower does for the kit variant's events: seal them all, in blocks of 10,000."""
    with psycopg.connect(server.dsn("kit_follower"), autocommit=True) as conn:
        events = 0
        started = time.perf_counter()
        while True:
            row = conn.execute("SELECT pgaudit_kit.seal(10000, true)").fetchone()
            sealed = int(row[0]) if row else 0
            events += sealed
            if sealed < 10000:
                break
        seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "us_per_event": seconds / max(events, 1) * 1e6}


def report(workload: str, runs: dict[str, list[float]]) -> list[str]:
    best = {name: min(values) for name, values in runs.items()}
    lines = [f"backend CPU per {workload} transaction (server-side loop, fsync off): min and median over repetitions",
             f"{'variant':<20} {'min us':>8} {'median':>8} {'over baseline':>14} {'removed vs previous':>20}"]
    previous = None
    for name in VARIANTS:
        change = f"{best[name] - best[previous]:+8.0f}" if previous else ""
        lines.append(f"{name:<20} {best[name]:8.0f} {median(runs[name]):8.0f} {best[name] - best['baseline']:+14.0f} "
                     f"{change:>20}")
        previous = name if name in KIT_VARIANTS else None
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--transactions", type=int, default=3000, help="transactions per loop (default 3000)")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per variant (default 7)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.transactions < 1:
        parser.error("--repeat and --transactions must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with TempServer(settings={**FAST_SETTINGS, "shared_buffers": "512MB", "max_wal_size": "4GB"}) as server:
        log(f"server on port {server.port}")
        revision = prepare(server, args.scale)
        machine = machine_info(server)
        runs = {workload: measure(server, workload, args.transactions, args.repeat) for workload in WORKLOADS}
        sealing = sealing_cost(server)
    lines = [line for workload in WORKLOADS for line in report(workload, runs[workload]) + [""]]
    lines.append(f"sealing (the follower's work): {sealing['us_per_event']:.1f} us per event "
                 f"({sealing['events']:,.0f} events in {sealing['seconds']:.2f} s)")
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, vars(args), cpu_us_per_txn=runs, sealing=sealing, report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
