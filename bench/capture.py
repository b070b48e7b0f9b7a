"""Capture overhead: an unaudited baseline and an audited database measured side by side, in one run.

One throwaway PostgreSQL server with durable settings holds two copies of the same pgbench database:
``baseline`` (no kit) and ``audited`` (kit installed, the four pgbench tables and a keyed bulk table
enrolled). Every measurement is a pair of runs, one on each, back to back and in alternating order
(ABBA), so that drift of the machine (other load, disk flushes, CPU boost) hits both sides; results
are medians of the pairs' audited/baseline ratios, printed against the project's targets.

    python -m bench.capture --duration 12 --repeat 5 --json bench/results.json   # from the repo root

Measured:
  * pgbench tpcb-like (builtin script) throughput at several client counts;
  * a 100,000-row UPDATE, INSERT ... SELECT and COPY FROM, each as one timed transaction;
  * bytes of audit storage (event + transaction tables, with indexes and TOAST) per change recorded
    during the pgbench runs only.

Not a test: nothing here asserts; it prints PASS/MISS against the project's targets.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

# Durable on purpose: the kit's cost is partly extra WAL, which only shows when commits wait for it.
DURABLE_SETTINGS: dict[str, str] = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "256MB",
    "max_wal_size": "2GB",
    "checkpoint_timeout": "30min",
}
DATABASES = ("baseline", "audited")
PGBENCH_TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history")
# Target of INSERT ... SELECT and COPY: keyed, so the captured events carry a primary key as they would
# for a typical application table (pgbench_history has none).
BULK_TABLE = "bench_bulk"
BULK_OPERATIONS = ("update", "insert_select", "copy")
DML_OPS = ("I", "U", "D", "T")

TPCB_TARGET = 0.65  # audited tps / baseline tps, below 16 clients
TPCB_TARGET_MANY_CLIENTS = 0.55  # at 16 clients and more
BULK_TARGET = 2.5  # audited time / baseline time
BYTES_PER_CHANGE_TARGET = 350.0

T = TypeVar("T")


# -- results -------------------------------------------------------------------------------------------
@dataclass
class PgbenchRun:
    database: str
    clients: int
    tps: float
    transactions: int
    failed: int
    latency_ms: float
    wal_bytes: int


@dataclass
class TpcbResult:
    clients: int
    baseline_tps: float
    audited_tps: float
    ratio: float
    target: float
    met: bool
    baseline_wal_per_txn: float
    audited_wal_per_txn: float
    runs: list[PgbenchRun] = field(default_factory=list)


@dataclass
class BulkResult:
    operation: str
    rows: int
    baseline_s: float
    audited_s: float
    ratio: float
    target: float
    met: bool
    baseline_wal_per_row: float
    audited_wal_per_row: float
    baseline_runs_s: list[float] = field(default_factory=list)
    audited_runs_s: list[float] = field(default_factory=list)


@dataclass
class StorageSnapshot:
    event_table_bytes: int  # heap + TOAST + free space / visibility maps
    event_index_bytes: int
    transaction_bytes: int  # everything, indexes included
    changes: int  # events with op I/U/D/T
    transactions: int
    block_bytes: int  # the sealed log, where the installed version has one
    sealed_events: int

    @property
    def event_bytes(self) -> int:
        return self.event_table_bytes + self.event_index_bytes


@dataclass
class StorageResult:
    changes: int
    transactions: int
    bytes_per_change: float
    event_bytes_per_change: float
    event_table_bytes_per_change: float
    event_index_bytes_per_change: float
    transaction_bytes_per_change: float
    changes_per_transaction: float
    target: float
    met: bool
    # Outside the target's definition (event + transaction), reported so that growth there is seen.
    sealed_events: int
    block_bytes_per_sealed_event: float


# -- plumbing ------------------------------------------------------------------------------------------
def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def connect(server: TempServer, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(server.dsn(database), autocommit=True, application_name="pgaudit-kit-bench")


def run_pgbench(server: TempServer, database: str, args: Sequence[str],
                extra_env: Mapping[str, str] | None = None) -> str:
    """pgbench's stdout; extra_env (PGOPTIONS, say) is added to the server's client environment.
    Raises RuntimeError when pgbench exits non-zero (a client aborted, a script error)."""
    # The caller's own PG* variables must not redirect pgbench to another server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(server.client_env(), PGDATABASE=database)
    env.update(extra_env or {})
    result = subprocess.run(
        [server.tool("pgbench"), *args], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} on {database} failed:\n{result.stderr}{result.stdout}")
    return result.stdout


def parse_number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"pgbench output lacks {pattern!r}:\n{text}")
    return float(match.group(1))


def wal_lsn(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def wal_since(conn: psycopg.Connection[Any], lsn: str) -> int:
    row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::int8", (lsn,)).fetchone()
    assert row is not None
    return int(row[0])


def settle(conn: psycopg.Connection[Any]) -> None:
    """Same starting state before every measurement: dead rows of the last run vacuumed, dirty pages
    flushed (so each run pays its own full-page writes and none of the previous run's checkpoint)."""
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in (*PGBENCH_TABLES, BULK_TABLE))
    conn.execute(sql.SQL("VACUUM {}").format(tables))
    conn.execute("CHECKPOINT")


def quiesce(conn: psycopg.Connection[Any]) -> None:
    """After a measured run: vacuum and analyse the whole database, so that autovacuum finds nothing to do in it
    during the next run, which is another database's. Without it a run that follows an audited one shared the two
    cores with the vacuum of that one's event partitions (and counted its WAL): with the same kit in two databases,
    the one that more often followed an audited run measured 3.5% slower at 16 clients (bench.revision_ab,
    bench/RESULTS.md)."""
    conn.execute("VACUUM (ANALYZE)")


def rotation(names: Sequence[str], rep: int) -> list[str]:
    """The order to run *names* in at repetition *rep*: rotated by one each time, and reversed every other time, so
    that no variant always runs first, or always right after the same other one."""
    rotated = list(names[rep % len(names):]) + list(names[:rep % len(names)])
    return rotated if rep % 2 == 0 else rotated[::-1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(audited: Sequence[T], baseline: Sequence[T], value: Callable[[T], float]) -> float:
    """Median over repetitions of audited/baseline. The two runs of a repetition are back to back, so
    load that comes and goes (other jobs on the machine, disk flushes) mostly cancels within a pair;
    a ratio of two medians would compare runs minutes apart."""
    return median([value(a) / value(b) for a, b in zip(audited, baseline, strict=True)])


# -- setup ---------------------------------------------------------------------------------------------
def create_pgbench_databases(server: TempServer, names: Sequence[str], scale: int) -> None:
    """Each a pgbench database of the given scale, plus the bulk table (which settle() vacuums too)."""
    with connect(server, "postgres") as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for name in names:
        log(f"pgbench -i -s {scale} in {name}")
        run_pgbench(server, name, ["-i", "-s", str(scale), "-q"])
        with connect(server, name) as conn:
            conn.execute(sql.SQL(
                "CREATE TABLE {} (id bigint PRIMARY KEY, aid integer NOT NULL, delta integer NOT NULL,"
                " note text NOT NULL, mtime timestamptz NOT NULL)"
            ).format(sql.Identifier(BULK_TABLE)))


def prepare_databases(server: TempServer, scale: int) -> str:
    """Create, fill and (for audited) instrument both databases; returns the kit's schema revision."""
    create_pgbench_databases(server, DATABASES, scale)
    log("installing pgaudit-kit in audited and enrolling its tables")
    installed = installer.install(connector(server.dsn("audited")))
    with connect(server, "audited") as conn:
        enable_tables(conn, [*PGBENCH_TABLES, BULK_TABLE], CaptureOptions())
    return installed.after


def source_revision() -> dict[str, Any]:
    """The commit measured: the kit changes quickly, and numbers only mean something against a version."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    status = git("status", "--porcelain", "--", "sql", "migrations", "pgaudit_kit")
    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "uncommitted": len(status.splitlines())}


def write_run(path: str, revision: str, machine: Mapping[str, Any], args: Mapping[str, Any],
              **figures: Any) -> None:
    """One run's figures as JSON, with when, what (commit and kit revision), where and how it ran."""
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"when": datetime.now(UTC).isoformat(timespec="seconds"), "source": source_revision(),
                   "kit_revision": revision, "machine": machine, "args": dict(args), **figures}, out, indent=1)


def write_results(path: str, results: Mapping[str, Any]) -> None:
    """A bench's whole results document as JSON (what is not JSON, such as a Path, as its text)."""
    with open(path, "w", encoding="utf-8") as out:
        json.dump(results, out, indent=2, default=str)
        out.write("\n")


def machine_info(server: TempServer) -> dict[str, Any]:
    cpu_model = "unknown"
    memory_kib = 0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            models = (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
            cpu_model = next(models, cpu_model)
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            memory_kib = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    except OSError:  # not Linux: report what platform knows
        cpu_model = platform.processor() or cpu_model
    with connect(server, "postgres") as conn:
        version = conn.execute("SELECT version()").fetchone()
        settings = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            (["fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_wal_size",
              "checkpoint_timeout", "wal_level", "autovacuum"],),
        ).fetchall()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.platform(),
        "python": platform.python_version(),
        "postgresql": str(version[0]) if version else "unknown",
        "settings": {str(name): str(value) for name, value in settings},
        # Other work on the machine skews absolute numbers (alternation protects the ratios somewhat).
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- pgbench -------------------------------------------------------------------------------------------
def tpcb_run(server: TempServer, conn: psycopg.Connection[Any], database: str, clients: int,
             duration: int) -> PgbenchRun:
    settle(conn)
    start = wal_lsn(conn)
    # -n: pgbench's own vacuum would TRUNCATE pgbench_history, which the audited side records row by row.
    out = run_pgbench(server, database, ["-n", "-c", str(clients), "-j", str(min(clients, 2)),
                                         "-T", str(duration)])
    run = PgbenchRun(
        database=database,
        clients=clients,
        tps=parse_number(r"tps = ([0-9.]+) \(without initial connection time\)", out),
        transactions=int(parse_number(r"number of transactions actually processed: (\d+)", out)),
        failed=int(parse_number(r"number of failed transactions: (\d+)", out)),
        latency_ms=parse_number(r"latency average = ([0-9.]+) ms", out),
        wal_bytes=wal_since(conn, start),
    )
    log(f"  {database:13} {clients:3} clients: {run.tps:9.1f} tps, {run.wal_bytes / run.transactions:7.0f} "
        "WAL bytes/txn")
    quiesce(conn)
    return run


INSTALL_BEFORE = ("from pgaudit_kit.pg.db import connector; from pgaudit_kit.schema import installer; "
                  "import sys; print(installer.install(connector(sys.argv[1])).after)")


def install_from_tree(server: TempServer, tree: Path, database: str) -> str:
    """Install the kit of the checkout *tree* into *database* with that checkout's own installer; its revision."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, "-c", INSTALL_BEFORE, server.dsn(database)], env=env,
                          capture_output=True, text=True, check=True, cwd=tree).stdout.strip()


def rotated_runs(server: TempServer, conns: Mapping[str, psycopg.Connection[Any]], clients: int, duration: int,
                 repeat: int) -> dict[str, list[PgbenchRun]]:
    """*repeat* repetitions of one pgbench run per database, the order rotated, and reversed every other time."""
    names = tuple(conns)
    runs: dict[str, list[PgbenchRun]] = {name: [] for name in names}
    for rep in range(repeat):
        for name in rotation(names, rep):
            runs[name].append(tpcb_run(server, conns[name], name, clients, duration))
    return runs


def summary(clients: int, runs: Mapping[str, list[PgbenchRun]], pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Median tps and WAL per transaction of each database, and the median per-repetition ratio of each pair."""
    row: dict[str, Any] = {"clients": clients}
    for name, done in runs.items():
        row[f"{name}_tps"] = round(median([r.tps for r in done]), 1)
        row[f"{name}_wal_bytes_per_txn"] = round(sum(r.wal_bytes for r in done) / sum(r.transactions for r in done))
    for a, b in pairs:
        row[f"{a}_over_{b}"] = round(median([x.tps / y.tps for x, y in zip(runs[a], runs[b], strict=True)]), 3)
    row["runs_tps"] = {name: [round(r.tps, 1) for r in done] for name, done in runs.items()}
    return row


def tpcb(server: TempServer, conns: dict[str, psycopg.Connection[Any]], clients_list: Sequence[int],
         duration: int, repeat: int) -> list[TpcbResult]:
    results = []
    for clients in clients_list:
        runs: list[PgbenchRun] = []
        for rep in range(repeat):
            # ABBA order over repeats, so neither side always runs on the warmer machine.
            for database in DATABASES if rep % 2 == 0 else DATABASES[::-1]:
                runs.append(tpcb_run(server, conns[database], database, clients, duration))
        by_db = {db: [r for r in runs if r.database == db] for db in DATABASES}
        tps = {db: median([r.tps for r in by_db[db]]) for db in DATABASES}
        wal = {db: sum(r.wal_bytes for r in by_db[db]) / sum(r.transactions for r in by_db[db])
               for db in DATABASES}
        target = TPCB_TARGET_MANY_CLIENTS if clients >= 16 else TPCB_TARGET
        ratio = paired_ratio(by_db["audited"], by_db["baseline"], lambda r: r.tps)
        results.append(TpcbResult(
            clients=clients, baseline_tps=tps["baseline"], audited_tps=tps["audited"], ratio=ratio,
            target=target, met=ratio >= target, baseline_wal_per_txn=wal["baseline"],
            audited_wal_per_txn=wal["audited"], runs=runs,
        ))
    return results


# -- storage -------------------------------------------------------------------------------------------
def storage_snapshot(conn: psycopg.Connection[Any]) -> StorageSnapshot:
    row = conn.execute(
        # (partitioned since revision 0013: the partitions hold the rows and the indexes)
        """SELECT (SELECT sum(pg_table_size(relid)) FROM pg_partition_tree('pgaudit_kit.event')),
                  (SELECT sum(pg_indexes_size(relid)) FROM pg_partition_tree('pgaudit_kit.event')),
                  pg_total_relation_size('pgaudit_kit.transaction'),
                  (SELECT count(*) FROM pgaudit_kit.event WHERE op = ANY(%s::"char"[])),
                  (SELECT count(*) FROM pgaudit_kit.transaction)""",
        (list(DML_OPS),),
    ).fetchone()
    assert row is not None
    block = (0, 0)
    if conn.execute("SELECT to_regclass('pgaudit_kit.block') IS NOT NULL").fetchone() == (True,):
        found = conn.execute(
            "SELECT pg_total_relation_size('pgaudit_kit.block'), COALESCE(max(tree_size), 0) FROM pgaudit_kit.block"
        ).fetchone()
        assert found is not None
        block = (int(found[0]), int(found[1]))
    event_table, event_index, transaction, changes, transactions = (int(v) for v in row)
    if conn.execute("SELECT to_regclass('pgaudit_kit.event_chunk') IS NOT NULL").fetchone() == (True,):
        # revision 0010: changes of statements of many rows, still in chunks (until sealing expands them)
        chunks = conn.execute("SELECT pg_total_relation_size('pgaudit_kit.event_chunk'), "
                              "(SELECT COALESCE(sum(n_events), 0) FROM pgaudit_kit.event_chunk)").fetchone()
        assert chunks is not None
        event_table += int(chunks[0])
        changes += int(chunks[1])
    return StorageSnapshot(event_table, event_index, transaction, changes, transactions, *block)


def storage_result(before: StorageSnapshot, after: StorageSnapshot) -> StorageResult:
    changes = after.changes - before.changes
    if changes <= 0:
        raise RuntimeError("no changes were recorded during the pgbench runs")
    per_change = {
        name: (getattr(after, name) - getattr(before, name)) / changes
        for name in ("event_table_bytes", "event_index_bytes", "event_bytes", "transaction_bytes")
    }
    total = per_change["event_bytes"] + per_change["transaction_bytes"]
    transactions = after.transactions - before.transactions
    sealed = after.sealed_events - before.sealed_events
    return StorageResult(
        changes=changes,
        transactions=transactions,
        bytes_per_change=total,
        event_bytes_per_change=per_change["event_bytes"],
        event_table_bytes_per_change=per_change["event_table_bytes"],
        event_index_bytes_per_change=per_change["event_index_bytes"],
        transaction_bytes_per_change=per_change["transaction_bytes"],
        changes_per_transaction=changes / transactions if transactions else 0.0,
        target=BYTES_PER_CHANGE_TARGET,
        met=total <= BYTES_PER_CHANGE_TARGET,
        sealed_events=sealed,
        block_bytes_per_sealed_event=(after.block_bytes - before.block_bytes) / sealed if sealed else 0.0,
    )


# -- bulk ----------------------------------------------------------------------------------------------
def copy_payload(first_id: int, rows: int) -> bytes:
    """COPY text rows for bench_bulk, built before the clock starts."""
    buffer = io.StringIO()
    for i in range(first_id, first_id + rows):
        buffer.write(f"{i}\t{i % 1_000_000 + 1}\t{i % 5000 - 2500}\tcopied row {i}\t2024-01-01 00:00:00+00\n")
    return buffer.getvalue().encode()


def insert_select(conn: psycopg.Connection[Any], table: str, first_id: int, rows: int) -> None:
    """INSERT ... SELECT of rows generated in the server, ids first_id .. first_id + rows - 1, into a table
    shaped as bench_bulk."""
    conn.execute(sql.SQL(
        "INSERT INTO {} (id, aid, delta, note, mtime)"
        " SELECT g, g %% 1000000 + 1, g %% 5000 - 2500, 'inserted row ' || g, now()"
        " FROM generate_series(%s::int8, %s::int8) g"
    ).format(sql.Identifier(table)), (first_id, first_id + rows - 1))


def timed_transaction(conn: psycopg.Connection[Any], work: Callable[[], object]) -> tuple[float, int]:
    """Seconds and WAL bytes of work run as one transaction, commit (and its WAL flush) included."""
    lsn = wal_lsn(conn)
    start = time.perf_counter()
    with conn.transaction():
        work()
    elapsed = time.perf_counter() - start
    return elapsed, wal_since(conn, lsn)


def bulk_run(conn: psycopg.Connection[Any], operation: str, rows: int, rep: int) -> tuple[float, int]:
    """Seconds and WAL bytes of one bulk operation."""
    # INSERT and COPY write fresh keys every repetition: ids [2*rep*rows + 1, 2*(rep+1)*rows].
    first_id = 2 * rep * rows + 1
    payload = copy_payload(first_id + rows, rows) if operation == "copy" else b""
    table = sql.Identifier(BULK_TABLE)

    def work() -> None:
        if operation == "update":
            conn.execute("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= %s", (rows,))
        elif operation == "insert_select":
            insert_select(conn, BULK_TABLE, first_id, rows)
        else:
            with conn.cursor().copy(
                sql.SQL("COPY {} (id, aid, delta, note, mtime) FROM STDIN").format(table)
            ) as copy:
                copy.write(payload)

    settle(conn)
    return timed_transaction(conn, work)


def bulk(conns: dict[str, psycopg.Connection[Any]], rows: int, repeat: int) -> list[BulkResult]:
    # These sessions never ran single-row DML, so the capture functions are planned for the bulk sizes.
    # A session that had (pgbench's, say) may reuse a cached one-row plan instead: see RESULTS.md.
    times: dict[tuple[str, str], list[float]] = {(op, db): [] for op in BULK_OPERATIONS for db in DATABASES}
    wal: dict[tuple[str, str], list[float]] = {(op, db): [] for op in BULK_OPERATIONS for db in DATABASES}
    for rep in range(repeat):
        for operation in BULK_OPERATIONS:
            for database in DATABASES if rep % 2 == 0 else DATABASES[::-1]:
                elapsed, wal_bytes = bulk_run(conns[database], operation, rows, rep)
                times[operation, database].append(elapsed)
                wal[operation, database].append(wal_bytes / rows)
                log(f"  {database:8} {operation:13}: {elapsed:7.3f} s, {wal_bytes / rows:5.0f} WAL bytes/row")
    results = []
    for operation in BULK_OPERATIONS:
        base, audited = median(times[operation, "baseline"]), median(times[operation, "audited"])
        ratio = paired_ratio(times[operation, "audited"], times[operation, "baseline"], float)
        results.append(BulkResult(
            operation=operation, rows=rows, baseline_s=base, audited_s=audited, ratio=ratio,
            target=BULK_TARGET, met=ratio <= BULK_TARGET,
            baseline_wal_per_row=median(wal[operation, "baseline"]),
            audited_wal_per_row=median(wal[operation, "audited"]),
            baseline_runs_s=times[operation, "baseline"], audited_runs_s=times[operation, "audited"],
        ))
    return results


# -- report --------------------------------------------------------------------------------------------
def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def report(results: dict[str, Any], tpcb_results: list[TpcbResult], bulk_results: list[BulkResult],
           storage: StorageResult) -> str:
    machine, params = results["machine"], results["parameters"]
    lines = [
        f"Machine:    {machine['nproc']} CPUs, {machine['cpu_model']}, {machine['memory_gib']} GiB RAM",
        f"PostgreSQL: {machine['postgresql']}",
        "Settings:   " + ", ".join(f"{k}={v}" for k, v in machine["settings"].items()),
        f"Load:       {machine['load_average_at_start']} at start, {results['load_average_at_end']} at end "
        "(1/5/15-minute averages)",
        f"Date:       {results['date']}",
        f"Source:     {results['source']['commit']}, {results['source']['uncommitted']} uncommitted "
        f"change(s) under sql/, migrations/, pgaudit_kit/; kit schema revision {results['kit_revision']}",
        f"Command:    {results['command']}",
        "",
        f"pgbench tpcb-like, scale {params['scale']}, {params['duration']} s per run, "
        f"{params['repeat']} back-to-back pairs: medians of tps, median of the pairs' audited/baseline "
        "ratios (higher is better)",
        f"{'clients':>7} {'baseline tps':>13} {'audited tps':>12} {'ratio':>6} {'target':>7}  "
        f"{'':4} {'WAL B/txn base':>14} {'WAL B/txn aud':>13}",
    ]
    for t in tpcb_results:
        lines.append(
            f"{t.clients:>7} {t.baseline_tps:>13.1f} {t.audited_tps:>12.1f} {t.ratio:>6.3f} "
            f"{'>=' + str(t.target):>7}  {verdict(t.met):4} "
            f"{t.baseline_wal_per_txn:>14.0f} {t.audited_wal_per_txn:>13.0f}"
        )
    lines += [
        "",
        f"Bulk, {params['bulk_rows']:,} rows in one transaction, {params['bulk_repeat']} pairs: medians "
        "of time, median of the pairs' audited/baseline ratios (lower is better)",
        f"{'operation':>13} {'baseline s':>11} {'audited s':>10} {'ratio':>6} {'target':>7}  "
        f"{'':4} {'WAL B/row base':>14} {'WAL B/row aud':>13}",
    ]
    for b in bulk_results:
        lines.append(
            f"{b.operation:>13} {b.baseline_s:>11.3f} {b.audited_s:>10.3f} {b.ratio:>6.3f} "
            f"{'<=' + str(b.target):>7}  {verdict(b.met):4} "
            f"{b.baseline_wal_per_row:>14.0f} {b.audited_wal_per_row:>13.0f}"
        )
    lines += [
        "",
        f"Audit storage per change recorded during the pgbench runs ({storage.changes:,} changes in "
        f"{storage.transactions:,} transactions)",
        f"  total        {storage.bytes_per_change:7.1f} B/change  (target <= {storage.target:.0f})  "
        f"{verdict(storage.met)}",
        f"  event        {storage.event_bytes_per_change:7.1f} B/change  (table+TOAST "
        f"{storage.event_table_bytes_per_change:.1f}, indexes {storage.event_index_bytes_per_change:.1f})",
        f"  transaction  {storage.transaction_bytes_per_change:7.1f} B/change  "
        f"({storage.changes_per_transaction:.2f} changes per transaction)",
        f"  sealed log   {storage.block_bytes_per_sealed_event:7.1f} B/sealed event  (pgaudit_kit.block, not in "
        f"the target; {storage.sealed_events:,} events sealed in the window)",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    add("--clients", default="1,4,16", help="comma-separated client counts (default 1,4,16)")
    add("--duration", type=int, default=30, help="seconds per pgbench run (default 30)")
    add("--repeat", type=int, default=1, help="pgbench pairs per client count, median taken (default 1)")
    add("--bulk-repeat", type=int, default=3, help="pairs per bulk operation, median taken (default 3)")
    add("--warmup", type=int, default=5, help="untimed pgbench seconds per database (default 5)")
    add("--bulk-rows", type=int, default=100_000, help="rows per bulk operation (default 100000)")
    add("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if args.bulk_rows > 100_000 * args.scale:
        parser.error("--bulk-rows cannot exceed the number of pgbench_accounts rows (100000 x scale)")
    if min(args.repeat, args.bulk_repeat) < 1 or not args.clients or min(args.clients) < 1:
        parser.error("--repeat, --bulk-repeat and --clients must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python -m bench.capture", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    source = source_revision()  # before the run: the SQL is read when the kit is installed
    with TempServer(settings=DURABLE_SETTINGS) as server:
        log(f"server on port {server.port} ({server.bindir})")
        kit_revision = prepare_databases(server, args.scale)
        machine = machine_info(server)
        conns = {db: connect(server, db) for db in DATABASES}
        try:
            if args.warmup:
                log(f"warm-up, {args.warmup} s per database")
                for database in DATABASES:
                    run_pgbench(server, database, ["-n", "-c", "2", "-j", "2", "-T", str(args.warmup)])
            # The storage window covers the timed pgbench runs only; bulk rows would skew the mix.
            before = storage_snapshot(conns["audited"])
            log("pgbench tpcb-like")
            tpcb_results = tpcb(server, conns, args.clients, args.duration, args.repeat)
            storage = storage_result(before, storage_snapshot(conns["audited"]))
            log(f"bulk operations, {args.bulk_rows} rows")
            bulk_results = bulk(conns, args.bulk_rows, args.bulk_repeat)
        finally:
            for conn in conns.values():
                conn.close()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "source": source,
        "kit_revision": kit_revision,
        "machine": machine,
        "parameters": {
            "scale": args.scale, "clients": args.clients, "duration": args.duration, "repeat": args.repeat,
            "bulk_repeat": args.bulk_repeat, "warmup": args.warmup, "bulk_rows": args.bulk_rows,
        },
        "elapsed_s": round(time.monotonic() - started, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "tpcb": [asdict(t) for t in tpcb_results],
        "bulk": [asdict(b) for b in bulk_results],
        "storage": asdict(storage),
        "all_targets_met": (
            all(t.met for t in tpcb_results) and all(b.met for b in bulk_results) and storage.met
        ),
    }
    print(report(results, tpcb_results, bulk_results, storage))
    print(f"\nTotal time {results['elapsed_s']:.0f} s; all targets met: {results['all_targets_met']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
