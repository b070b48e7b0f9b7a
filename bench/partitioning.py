"""What partitioning the event table (schema revision 0013) costs the write path: pgbench tpcb-like on the same
server, in one run, against the unaudited baseline and the kit of the revision before it (the event table not
partitioned), with the history of the partitioned kit spread over many partitions.

    git worktree add /tmp/kit-0012 7f06af7          # the last commit of revision 0012
    python -m bench.partitioning --before-tree /tmp/kit-0012 --json bench/partitioning.json

Three pgbench databases (scale 10) on one throwaway server with durable settings (bench.capture):
``baseline`` (no kit), ``unpartitioned`` (the kit installed from --before-tree, by its own installer, in a
subprocess), ``partitioned`` (this tree's kit; its event identity moved past the first partition and
--partitions partitions of --partition-events events created, so that the runs write into the middle of a long
partition list, as a database years old would). The four pgbench tables are enrolled in both kits with default
options; writers seal at their commit. Each repetition runs every database once per client count, the order
rotated between repetitions; reported: median tps, the median of per-repetition ratios, WAL bytes per
transaction.

Then the upgrade itself: a database with the kit of --before-tree and --upgrade-events events (inserted
straight into its event table, as one transaction's), upgraded by this tree's installer; reported: the seconds
`install` takes (the partitioned table built around the old one, which becomes its first partition in place).
Nothing here asserts.
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

DATABASES = ("baseline", "unpartitioned", "partitioned")


def prepare(server: TempServer, before_tree: Path, partitions: int, partition_events: int) -> dict[str, Any]:
    create_pgbench_databases(server, DATABASES, 10)
    before = install_from_tree(server, before_tree, "unpartitioned")
    after = installer.install(connector(server.dsn("partitioned"))).after
    for database in ("unpartitioned", "partitioned"):
        with connect(server, database) as conn:
            for table in PGBENCH_TABLES:
                conn.execute("SELECT pgaudit_kit.enable_table(%s::regclass)", (f"public.{table}",))
    with connect(server, "partitioned") as conn:
        top = conn.execute("SELECT max(upper_id) FROM pgaudit_kit.event_partitions()").fetchone()
        assert top is not None
        conn.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", (top[0] - 1024,))
        conn.execute("SELECT pgaudit_kit.add_event_partitions(%s, %s)", (partition_events * 1024, partitions))
        count = conn.execute("SELECT count(*) FROM pgaudit_kit.event_partitions()").fetchone()
        assert count is not None
    log(f"unpartitioned: revision {before}; partitioned: revision {after}, {count[0]} partitions")
    return {"unpartitioned_revision": before, "partitioned_revision": after, "partitions": int(count[0]),
            "partition_events": partition_events}


def upgrade_time(server: TempServer, before_tree: Path, events: int) -> dict[str, Any]:
    with connect(server, "postgres") as admin:
        admin.execute("CREATE DATABASE upgraded")
    install_from_tree(server, before_tree, "upgraded")
    with connect(server, "upgraded") as conn:
        conn.execute("INSERT INTO pgaudit_kit.event (xid, statement_ts, op, relid, schema_name, table_name, pk, "
                     "row_data) SELECT pg_current_xact_id(), now(), 'I', 16384, 'public', 't', "
                     "jsonb_build_object('id', g::text), jsonb_build_object('id', g::text, 'note', md5(g::text)) "
                     "FROM generate_series(1, %s) g", (events,))
        conn.execute("VACUUM ANALYZE pgaudit_kit.event")
        size = conn.execute("SELECT pg_total_relation_size('pgaudit_kit.event')").fetchone()
        assert size is not None
    started = time.monotonic()
    installer.install(connector(server.dsn("upgraded")))
    seconds = time.monotonic() - started
    with connect(server, "upgraded") as conn:
        held = conn.execute("SELECT count(*) FROM pgaudit_kit.event_p0").fetchone()
        assert held is not None
    log(f"upgrade of {events:,} events ({int(size[0]) / 1e6:.0f} MB) to revision 0013: {seconds:.1f} s")
    return {"events": events, "event_table_bytes": int(size[0]), "install_seconds": round(seconds, 2),
            "events_in_event_p0": int(held[0])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-tree", type=Path, required=True,
                        help="a checkout of the kit before revision 0013 (its installer installs the other kit)")
    parser.add_argument("--clients", default="1,4", help="pgbench client counts (default 1,4)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run (default 10)")
    parser.add_argument("--repeat", type=int, default=4, help="rotated repetitions (default 4)")
    parser.add_argument("--partitions", type=int, default=24, help="partitions ahead to create (default 24)")
    parser.add_argument("--partition-events", type=int, default=100_000,
                        help="events per partition (default 100,000: the runs fill a few of them)")
    parser.add_argument("--upgrade-events", type=int, default=1_000_000,
                        help="events in the database upgraded to revision 0013 (default 1,000,000; 0: skip)")
    parser.add_argument("--tpcb", action=argparse.BooleanOptionalAction, default=True,
                        help="measure pgbench tpcb-like (default: yes)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench.partitioning", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
                               "source": source_revision()}
    with TempServer(settings=DURABLE_SETTINGS) as server:
        results["machine"] = machine_info(server)
        if args.upgrade_events:
            results["upgrade"] = upgrade_time(server, args.before_tree, args.upgrade_events)
        if not args.tpcb:
            return finish(args, results, started)
        results["setup"] = prepare(server, args.before_tree, args.partitions, args.partition_events)
        conns = {name: connect(server, name) for name in DATABASES}
        try:
            for name in DATABASES:  # warm-up, untimed
                tpcb_run(server, conns[name], name, 1, 3)
            tpcb: list[dict[str, Any]] = []
            for clients in (int(c) for c in args.clients.split(",")):
                runs = rotated_runs(server, conns, clients, args.duration, args.repeat)
                row = summary(clients, runs, (("partitioned", "unpartitioned"), ("partitioned", "baseline"),
                                              ("unpartitioned", "baseline")))
                tpcb.append(row)
                log(f"{clients} clients: partitioned/unpartitioned {row['partitioned_over_unpartitioned']:.3f}")
            results["tpcb"] = tpcb
            with connect(server, "partitioned") as conn:
                results["partitions_written"] = [str(r[0]) for r in conn.execute(
                    "SELECT DISTINCT tableoid::regclass::text FROM pgaudit_kit.event ORDER BY 1")]
        finally:
            for conn in conns.values():
                conn.close()
    return finish(args, results, started)


def finish(args: argparse.Namespace, results: dict[str, Any], started: float) -> int:
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for row in results.get("tpcb", []):
        print(f"{row['clients']:>3} clients: baseline {row['baseline_tps']:8.1f} tps, unpartitioned "
              f"{row['unpartitioned_tps']:8.1f}, partitioned {row['partitioned_tps']:8.1f}; partitioned/unpartitioned "
              f"{row['partitioned_over_unpartitioned']:.3f}; WAL/txn {row['unpartitioned_wal_bytes_per_txn']} -> "
              f"{row['partitioned_wal_bytes_per_txn']}")
    if "upgrade" in results:
        print(f"upgrade of {results['upgrade']['events']:,} events to revision 0013: "
              f"{results['upgrade']['install_seconds']} s")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
