"""This tree's kit against another checkout's, in one run: pgbench tpcb-like on one server, beside the unaudited
baseline. For a change to the write path, pgbench ratios move between runs on a shared machine by more than the
change (bench/RESULTS.md); the two kits measured side by side, in alternating order, are the comparison that holds.

    git worktree add /tmp/kit-before <commit>       # the kit before the change
    python -m bench.revision_ab --before-tree /tmp/kit-before --json bench/revision_ab.json

Three pgbench databases (scale 10) on one throwaway server with durable settings (bench.capture): ``baseline`` (no
kit), ``before`` (the kit installed from --before-tree by its own installer, in a subprocess) and ``after`` (this
tree's kit). The four pgbench tables are enrolled in both kits with the same options (--capture-mode); writers
seal at their commit. Each repetition runs every database once per client count, the order rotated and reversed
between repetitions (bench.partitioning measures the same way); reported: median tps, the median of
per-repetition ratios, WAL bytes per transaction. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.capture import (
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    connect,
    create_pgbench_databases,
    install_from_tree,
    log,
    machine_info,
    rotated_runs,
    source_revision,
    summary,
    tpcb_run,
    write_results,
)
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

DATABASES = ("baseline", "before", "after")
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-tree", type=Path, required=True, help="a checkout of the kit to compare against")
    parser.add_argument("--capture-mode", choices=("statement", "row"), default="row",
                        help="capture mode of the four tables in both kits (default row)")
    parser.add_argument("--clients", default="1,4,16", help="pgbench client counts (default 1,4,16)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run (default 10)")
    parser.add_argument("--repeat", type=int, default=4, help="rotated repetitions (default 4)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench.revision_ab", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
                               "source": source_revision()}
    with TempServer(settings=DURABLE_SETTINGS) as server:
        results["machine"] = machine_info(server)
        create_pgbench_databases(server, DATABASES, 10)
        results["before_revision"] = install_from_tree(server, args.before_tree, "before")
        results["after_revision"] = installer.install(connector(server.dsn("after"))).after
        for database in ("before", "after"):
            with connect(server, database) as conn:
                for table in PGBENCH_TABLES:
                    conn.execute("SELECT pgaudit_kit.enable_table(%s::regclass, p_capture_mode => %s)",
                                 (f"public.{table}", args.capture_mode))
        log(f"before: revision {results['before_revision']}; after: revision {results['after_revision']}")
        conns = {name: connect(server, name) for name in DATABASES}
        try:
            for name in DATABASES:  # warm-up, untimed
                tpcb_run(server, conns[name], name, 1, 3)
            results["tpcb"] = []
            for clients in (int(c) for c in args.clients.split(",")):
                runs = rotated_runs(server, conns, clients, args.duration, args.repeat)
                row = summary(clients, runs, (("after", "before"), ("after", "baseline"), ("before", "baseline")))
                results["tpcb"].append(row)
                log(f"{clients} clients: after/before {row['after_over_before']:.3f}")
        finally:
            for conn in conns.values():
                conn.close()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for row in results["tpcb"]:
        print(f"{row['clients']:>3} clients: baseline {row['baseline_tps']:8.1f} tps, before {row['before_tps']:8.1f}, "
              f"after {row['after_tps']:8.1f}; after/before {row['after_over_before']:.3f}; WAL/txn "
              f"{row['before_wal_bytes_per_txn']} -> {row['after_wal_bytes_per_txn']}")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
