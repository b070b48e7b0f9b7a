"""Review with the event table's block-range indexes as revision 0014 has them (one index of relid and
statement_ts) and as before (one index each), on one log, in one run; and what building each costs.

    python -m bench.brin_layout --events 2000000 --json bench/brin_layout.json   # from the repo root

Revision 0014 made the two BRIN indexes one: each index of the event table is opened and prepared at every
captured row's INSERT, whatever it costs to insert into. This checks what that does to review: the log of
bench.review (``--partition-events`` per partition), its queries timed by bench.review's ``measure_queries``
with each layout in turn, twice (merged, two, merged, two), the indexes swapped in a maintenance window between
rounds. The build times are what an upgrade pays (audited writers wait meanwhile).

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from bench.capture import DURABLE_SETTINGS, connect, log, machine_info, write_run
from bench.review import generate, measure_queries
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

BLOOM = "relid oid_bloom_ops (n_distinct_per_range = 64, false_positive_rate = 0.01)"
WITH = "WITH (pages_per_range = 32, autosummarize = on)"
LAYOUTS = {
    "merged": {"create": ["CREATE INDEX event_relid_time_brin ON pgaudit_kit.event "
                          f"USING brin ({BLOOM}, statement_ts) {WITH}"],
               "names": ["event_relid_time_brin"]},
    "two": {"create": [f"CREATE INDEX event_relid_bloom ON pgaudit_kit.event USING brin ({BLOOM}) {WITH}",
                       f"CREATE INDEX event_time_brin ON pgaudit_kit.event USING brin (statement_ts) {WITH}"],
            "names": ["event_relid_bloom", "event_time_brin"]},
}
SUMMARIZE = ("SELECT brin_summarize_new_values(c.oid) FROM pg_class c WHERE c.relkind = 'i' "
             "AND c.relnamespace = 'pgaudit_kit'::regnamespace "
             "AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'brin')")


def switch(dsn: str, layout: str) -> float:
    """Make *layout* the event table's BRIN indexes; returns the seconds its build took (0 if it was there)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        present = {str(r[0]) for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'pgaudit_kit'::regnamespace AND relname = ANY(%s)",
            ([n for spec in LAYOUTS.values() for n in spec["names"]],)).fetchall()}
        if present == set(LAYOUTS[layout]["names"]):
            return 0.0
        with conn.transaction():
            conn.execute("SELECT pgaudit_kit.begin_maintenance('bench.brin_layout: swap the BRIN indexes')")
            started = time.perf_counter()
            for statement in LAYOUTS[layout]["create"]:
                conn.execute(statement)
            seconds = time.perf_counter() - started
            for name in sorted(present):
                conn.execute(sql.SQL("DROP INDEX pgaudit_kit.{}").format(sql.Identifier(name)))
        conn.execute(SUMMARIZE)  # as the one it replaces: every full range summarised
        conn.execute("ANALYZE pgaudit_kit.event")
    return seconds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000, help="events in the log (default 2,000,000)")
    parser.add_argument("--partition-events", type=int, default=150_000,
                        help="events per partition (default 150,000: 14 partitions for 2M events)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each query (default 7)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both layouts (default 2)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    if min(args.events, args.partition_events, args.runs, args.rounds) < 1:
        parser.error("every count must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"build_s": [], "merged": [], "two": []}
    with TempServer(settings=DURABLE_SETTINGS) as server:
        with connect(server, "postgres") as admin:
            admin.execute("CREATE DATABASE review")
        dsn = server.dsn("review")
        revision = installer.install(connector(dsn)).after
        results["log"] = generate(server, "review", args.events, partition_events=args.partition_events)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE pgaudit_kit.event")
            conn.execute(SUMMARIZE)
        machine = machine_info(server)
        for rnd in range(args.rounds):
            for layout in ("merged", "two"):
                seconds = switch(dsn, layout)
                if seconds:
                    results["build_s"].append({"layout": layout, "seconds": round(seconds, 2)})
                    log(f"built {layout}: {seconds:.2f} s")
                log(f"round {rnd + 1}: {layout}")
                timed = measure_queries(dsn, args.runs)
                results[layout].append({name: q["median_ms"] for name, q in timed.items()})
    lines = [f"{'query':28} " + "  ".join(f"{layout:>17}" for layout in ("merged", "two"))]
    for name in results["merged"][0]:
        lines.append(f"{name:28} " + "  ".join(
            f"{' / '.join(f'{r[name]:.1f}' for r in results[layout]):>17}" for layout in ("merged", "two")))
    lines.append("builds: " + ", ".join(f"{b['layout']} {b['seconds']} s" for b in results["build_s"]))
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, vars(args), **results, report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
