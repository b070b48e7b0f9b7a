"""Why audited tpcb-like transactions fail a little more often under SERIALIZABLE: what capture reads, or only
how long the transactions take?

    python -m bench.serializable_cause --json bench/serializable_cause.json   # from the repo root

bench.reference finds tpcb-like under SERIALIZABLE (8 clients) failing 1.9-2.5 percentage points more often
with the kit than without it, while a single-row UPDATE of random accounts fails no more often. Capture reads
no table that writers write (its marks are a sequence and a transaction-local setting; the lockdown check reads
a sequence), so no predicate lock of the kit's can conflict. tpcb-like conflicts with itself (38% of its
transactions fail unaudited: every one updates one of ten branches), and a transaction that lasts longer
overlaps more of the others. This measures that alone: beside the baseline and the kit (row capture, a
`seal --follow` process sealing), row triggers that read and write nothing and only spend CPU (a PL/pgSQL loop
of N turns a row), at several N, so that some are as slow as the kit. If the failure rate follows throughput
whatever slows the transactions, the kit's extra failures are its cost, not a conflict of its own.

Method: bench.reference's serializable runs (pgbench tpcb-like, ``--max-tries=1``, enable_seqscan off, each run
after VACUUM and CHECKPOINT), rotated, repeated; failures / attempted over all runs of a variant.

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from psycopg import sql

from bench.capture import (
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    connect,
    create_pgbench_databases,
    log,
    machine_info,
    median,
    rotation,
    write_run,
)
from bench.reference import SerializableRun, failure_pct, seal_follower, serializable_run
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

KIT = "kit_row"
BUSY_TRIGGER = """
CREATE FUNCTION busy_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..{turns} LOOP
  END LOOP;
  RETURN NULL;
END $$;
"""
BUSY_TRIGGER_ON = ("CREATE TRIGGER busy_row AFTER INSERT OR UPDATE OR DELETE ON {} "
                   "FOR EACH ROW EXECUTE FUNCTION busy_row()")


def busy_name(turns: int) -> str:
    return f"busy_{turns}"


def prepare(server: TempServer, busy: Sequence[int], scale: int) -> tuple[list[str], str]:
    variants = ["baseline", KIT, *(busy_name(n) for n in busy)]
    create_pgbench_databases(server, variants, scale)
    for turns in busy:
        with connect(server, busy_name(turns)) as conn:
            conn.execute(BUSY_TRIGGER.format(turns=int(turns)))
            for table in PGBENCH_TABLES:
                conn.execute(sql.SQL(BUSY_TRIGGER_ON).format(sql.Identifier(table)))
    revision = installer.install(connector(server.dsn(KIT))).after
    with connect(server, KIT) as conn:
        enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row"))
    return variants, revision


def measure(server: TempServer, variants: Sequence[str], clients: int, duration: int,
            repeat: int) -> list[SerializableRun]:
    runs = []
    conns = {name: connect(server, name) for name in variants}
    try:
        for rep in range(repeat):
            for name in rotation(variants, rep):
                if name == KIT:
                    with seal_follower(server, name):
                        runs.append(serializable_run(server, conns[name], name, "tpcb-like", ["-b", "tpcb-like"],
                                                     clients, duration))
                else:
                    runs.append(serializable_run(server, conns[name], name, "tpcb-like", ["-b", "tpcb-like"],
                                                 clients, duration))
    finally:
        for conn in conns.values():
            conn.close()
    return runs


def summary(variants: Sequence[str], runs: Sequence[SerializableRun]) -> list[dict[str, Any]]:
    base = [r for r in runs if r.variant == "baseline"]
    rows = []
    for name in variants:
        mine = [r for r in runs if r.variant == name]
        rows.append({"variant": name, "tps": median([r.tps for r in mine]),
                     "tps_vs_baseline": median([r.tps for r in mine]) / median([r.tps for r in base]),
                     "failure_pct": failure_pct(mine), "minus_baseline_pp": failure_pct(mine) - failure_pct(base)})
    return rows


def report(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["tpcb-like under SERIALIZABLE: failures against throughput",
             f"{'variant':<14} {'tps':>8} {'/ baseline':>10} {'failures %':>11} {'- baseline pp':>14}"]
    for row in sorted(rows, key=lambda r: -r["tps"]):
        lines.append(f"{row['variant']:<14} {row['tps']:8.1f} {row['tps_vs_baseline']:10.3f} "
                     f"{row['failure_pct']:11.2f} {row['minus_baseline_pp']:+14.2f}")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="pgbench clients (default 8, as bench.reference)")
    parser.add_argument("--duration", type=int, default=12, help="seconds per run (default 12)")
    parser.add_argument("--repeat", type=int, default=3, help="rotated repetitions (default 3)")
    parser.add_argument("--busy", default="1000,2500,5000,10000",
                        help="loop turns per row of the busy triggers, comma-separated (default 1000,2500,5000,10000)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    try:
        args.busy_list = sorted({int(n) for n in args.busy.split(",") if n.strip()})
    except ValueError:
        parser.error("--busy: give whole numbers, e.g. 1000,5000")
    if any(n < 0 for n in args.busy_list) or min(args.scale, args.clients, args.duration, args.repeat) < 1:
        parser.error("--scale, --clients, --duration and --repeat must be positive, --busy not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with TempServer(settings=DURABLE_SETTINGS) as server:
        variants, revision = prepare(server, args.busy_list, args.scale)
        machine = machine_info(server)
        runs = measure(server, variants, args.clients, args.duration, args.repeat)
    rows = summary(variants, runs)
    lines = report(rows)
    print("\n".join(lines))
    log(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        write_run(args.json, revision, machine, {k: v for k, v in vars(args).items() if k != "busy_list"},
                  variants=rows, runs=[asdict(r) for r in runs], report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
