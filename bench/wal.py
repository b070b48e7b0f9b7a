"""Where the WAL of an audited tpcb-like transaction goes: every relation's share, read by pg_waldump.

    python -m bench.wal --transactions 20000 --clients 4 --json bench/wal.json   # from the repo root

bench.reference measures WAL per transaction over runs of equal *time*, as the issue does. Most of a tpcb
transaction's WAL is full-page images: the first change of each page after a checkpoint logs the whole page,
and the random pgbench_accounts pages dominate. Their number follows the pages touched, so a slower variant,
doing fewer transactions in the same time, spreads the same images over fewer transactions and looks worse
per transaction. Here both databases run the same number of transactions (pgbench -t), each after a
CHECKPOINT, and the WAL between the two LSNs is broken down with pg_waldump: per resource manager, and
per relation (records and full-page images), so the kit's own share is exact. The audited database captures
rows (``--capture-mode row``) and its events are sealed inside the measured window, after the run (what a
``seal --follow`` process writes), so the sealed log's WAL counts too.

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import psycopg

from bench.capture import (
    PGBENCH_TABLES,
    connect,
    create_pgbench_databases,
    log,
    machine_info,
    run_pgbench,
    write_run,
)
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

VARIANTS = ("baseline", "audited_row")
# pg_waldump --stats prints a Total line: records, record bytes [%], full-page image bytes [%], combined [%]
TOTAL = re.compile(r"^Total\s+(\d+)\s+(\d+)\s+\S+\s+(\d+)\s+\S+\s+(\d+)", re.MULTILINE)
RMGR = re.compile(r"^(\w+)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)",
                  re.MULTILINE)


def waldump_stats(server: TempServer, start: str, end: str, relation: str | None = None) -> str:
    args = [server.tool("pg_waldump"), "-p", str(server.datadir / "pg_wal"), "-s", start, "-e", end, "--stats"]
    if relation:
        args.append(f"--relation={relation}")
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def relations(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, tablespace/database/filenode) of every table, index and sequence of the kit and pgbench, and of
    their TOAST tables (the sealed log's blocks keep their leaves there)."""
    rows = conn.execute(
        """WITH r AS (SELECT n.nspname || '.' || c.relname AS name, c.oid, c.reltablespace
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname IN ('pgaudit_kit', 'public') AND c.relkind IN ('r', 'i', 'S')
                      UNION ALL
                      SELECT n.nspname || '.' || c.relname || ' (TOAST)', t.oid, t.reltablespace
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        JOIN pg_class t ON t.oid = c.reltoastrelid
                       WHERE n.nspname IN ('pgaudit_kit', 'public'))
           SELECT r.name, COALESCE(NULLIF(r.reltablespace, 0), d.dattablespace) || '/' || d.oid || '/'
                          || pg_relation_filenode(r.oid)
             FROM r JOIN pg_database d ON d.datname = current_database()
            WHERE pg_relation_filenode(r.oid) IS NOT NULL ORDER BY 1""").fetchall()
    return [(str(name), str(path)) for name, path in rows]


def measure(server: TempServer, name: str, clients: int, transactions: int) -> dict[str, Any]:
    per_client = max(transactions // clients, 1)
    with connect(server, name) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
        start = str(conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0])  # type: ignore[index]
        run_pgbench(server, name, ["-n", "-c", str(clients), "-j", str(min(clients, 2)), "-t", str(per_client)])
        if name != "baseline":
            while conn.execute("SELECT pgaudit_kit.seal(10000, true)").fetchone()[0]:  # type: ignore[index]
                pass
        end = str(conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0])  # type: ignore[index]
        total = int(conn.execute("SELECT %s::pg_lsn - %s::pg_lsn", (end, start)).fetchone()[0])  # type: ignore[index]
        done = per_client * clients
        stats = waldump_stats(server, start, end)
        by_rmgr = {m[0]: {"records": int(m[1]), "record_bytes": int(m[2]), "fpi_bytes": int(m[3])}
                   for m in RMGR.findall(stats) if int(m[1])}
        by_relation = {}
        for relation, path in relations(conn):
            found = TOTAL.search(waldump_stats(server, start, end, path))
            if found and int(found[1]):
                by_relation[relation] = {"records": int(found[1]), "record_bytes": int(found[2]),
                                         "fpi_bytes": int(found[3])}
    return {"transactions": done, "wal_bytes": total, "bytes_per_txn": total / done, "by_rmgr": by_rmgr,
            "by_relation": by_relation}


def report(results: dict[str, dict[str, Any]]) -> list[str]:
    base = results["baseline"]["bytes_per_txn"]
    lines = []
    for name, result in results.items():
        per = result["bytes_per_txn"]
        lines.append(f"{name}: {result['transactions']:,} transactions, {per:,.0f} B of WAL per transaction "
                     f"({per / base:.2f}x baseline)")
    lines.append("")
    lines.append(f"{'relation (audited_row)':<44} {'records/txn':>11} {'record B/txn':>12} {'FPI B/txn':>10}")
    audited = results["audited_row"]
    done = audited["transactions"]
    kit = 0.0
    for relation, row in sorted(audited["by_relation"].items(), key=lambda kv: -(kv[1]["record_bytes"]
                                                                               + kv[1]["fpi_bytes"])):
        lines.append(f"{relation:<44} {row['records'] / done:11.2f} {row['record_bytes'] / done:12.0f} "
                     f"{row['fpi_bytes'] / done:10.0f}")
        if relation.startswith("pgaudit_kit."):
            kit += (row["record_bytes"] + row["fpi_bytes"]) / done
    lines.append(f"the kit's relations together: {kit:,.0f} B per transaction")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="pgbench clients (default 4)")
    parser.add_argument("--transactions", type=int, default=20000, help="transactions per variant (default 20000)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    if min(args.scale, args.clients, args.transactions) < 1:
        parser.error("--scale, --clients and --transactions must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = {"shared_buffers": "256MB", "max_wal_size": "4GB", "synchronous_commit": "on"}
    with TempServer(settings=settings) as server:
        create_pgbench_databases(server, VARIANTS, args.scale)
        revision = installer.install(connector(server.dsn("audited_row"))).after
        with connect(server, "audited_row") as conn:
            enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row"))
            conn.execute("SELECT pgaudit_kit.renew_seal_lease(3600)")  # sealing is done apart, in the window
        machine = machine_info(server)
        results = {}
        for name in VARIANTS:
            log(f"{name}: {args.transactions} transactions")
            results[name] = measure(server, name, args.clients, args.transactions)
    lines = report(results)
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, vars(args), results=results, report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
