"""Reference points for the capture targets: what simpler in-transaction auditing costs on this machine.

The capture issue states its tpcb targets next to figures measured elsewhere ("a minimal jsonb row
trigger 0.47x at 16 clients"). This script measures such references on the machine at hand, in the
same run and on the same server as the kit, so that the kit's ratios can be read against them:

  * ``baseline``       -- pgbench tables, no trigger;
  * ``audited``        -- pgaudit-kit installed, the four tables enrolled (as ``bench.capture``);
  * ``jsonb_trigger``  -- the minimal jsonb row trigger: AFTER INSERT/UPDATE/DELETE FOR EACH ROW, one
                          INSERT of (table, operation, to_jsonb(row)) into an unindexed log table;
  * ``floor``          -- the least any trigger-based, in-transaction capture can do: a statement-level
                          AFTER trigger per table that inserts one constant row into an unindexed table.

    python -m bench.reference --duration 12 --repeat 3 --json bench/reference.json   # from the repo root

Every repetition runs each database once, in an order rotated between repetitions (and reversed every
other one); a variant's ratio is the median over repetitions of its tps over the baseline's tps of the
same repetition. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from bench.capture import (
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    PgbenchRun,
    connect,
    create_pgbench_databases,
    log,
    machine_info,
    median,
    run_pgbench,
    source_revision,
    tpcb_run,
)
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

VARIANTS = ("baseline", "audited", "jsonb_trigger", "floor")

# The "minimal jsonb row trigger": one row per changed row, the row as jsonb, nothing else.
JSONB_TRIGGER = """
CREATE TABLE audit_log (tbl text NOT NULL, op text NOT NULL, data jsonb);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_log VALUES (TG_TABLE_NAME, TG_OP,
                                to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
  RETURN NULL;
END $$;
"""
JSONB_TRIGGER_ON = ("CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION audit_row()")

# A trigger fired and one row written per statement: no image, no key, no who/where, no index.
FLOOR_TRIGGER = """
CREATE TABLE statement_log (n integer);
CREATE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statement_log VALUES (1);
  RETURN NULL;
END $$;
"""
FLOOR_TRIGGER_ON = ("CREATE TRIGGER log_statement AFTER INSERT OR UPDATE OR DELETE ON {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION log_statement()")


def prepare(server: TempServer, scale: int) -> str:
    create_pgbench_databases(server, VARIANTS, scale)
    for setup, trigger, variant in ((JSONB_TRIGGER, JSONB_TRIGGER_ON, "jsonb_trigger"),
                                    (FLOOR_TRIGGER, FLOOR_TRIGGER_ON, "floor")):
        with connect(server, variant) as conn:
            conn.execute(setup)
            for table in PGBENCH_TABLES:
                conn.execute(sql.SQL(trigger).format(sql.Identifier(table)))
    log("installing pgaudit-kit in audited and enrolling its tables")
    installed = installer.install(connector(server.dsn("audited")))
    with connect(server, "audited") as conn:
        enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions())
    return installed.after


def order(rep: int) -> list[str]:
    rotated = list(VARIANTS[rep % len(VARIANTS):] + VARIANTS[:rep % len(VARIANTS)])
    return rotated if rep % 2 == 0 else rotated[::-1]


def measure(server: TempServer, clients_list: Sequence[int], duration: int, repeat: int) -> list[dict[str, Any]]:
    conns = {name: connect(server, name) for name in VARIANTS}
    results = []
    try:
        for clients in clients_list:
            reps: list[dict[str, PgbenchRun]] = []
            for rep in range(repeat):
                reps.append({name: tpcb_run(server, conns[name], name, clients, duration) for name in order(rep)})
            results.append({
                "clients": clients,
                "tps": {name: median([r[name].tps for r in reps]) for name in VARIANTS},
                "ratio": {name: median([r[name].tps / r["baseline"].tps for r in reps]) for name in VARIANTS[1:]},
                "runs": [asdict(r[name]) for r in reps for name in VARIANTS],
            })
    finally:
        for conn in conns.values():
            conn.close()
    return results


def report(results: list[dict[str, Any]], repeat: int) -> None:
    print(f"\npgbench tpcb-like, {repeat} repetitions: median tps, and median of each repetition's ratio to "
          "its baseline run")
    print(f"{'clients':>7}  {'baseline tps':>12}  " + "  ".join(f"{name:>14}" for name in VARIANTS[1:]))
    for r in results:
        cells = "  ".join(f"{r['ratio'][name]:>7.3f} ({r['tps'][name]:>5.0f})" for name in VARIANTS[1:])
        print(f"{r['clients']:>7}  {r['tps']['baseline']:>12.1f}  {cells}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--clients", default="1,4,16", help="comma-separated client counts (default 1,4,16)")
    parser.add_argument("--duration", type=int, default=12, help="seconds per pgbench run (default 12)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per client count (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if args.repeat < 1 or not args.clients or min(args.clients) < 1:
        parser.error("--repeat and --clients must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with TempServer(settings=DURABLE_SETTINGS) as server:
        log(f"server on port {server.port}")
        revision = prepare(server, args.scale)
        machine = machine_info(server)
        for name in VARIANTS:  # untimed, so that no variant runs first on a cold cache
            run_pgbench(server, name, ["-n", "-c", "4", "-j", "2", "-T", "3"])
        results = measure(server, args.clients, args.duration, args.repeat)
    report(results, args.repeat)
    log(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"when": datetime.now(UTC).isoformat(timespec="seconds"), "source": source_revision(),
                       "kit_revision": revision, "machine": machine, "args": vars(args), "tpcb": results},
                      out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
