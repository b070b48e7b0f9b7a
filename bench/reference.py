"""Issue 15's capture targets: pgaudit-kit, in three configurations, and three simpler in-transaction captures,
side by side in one run.

One throwaway PostgreSQL server with durable settings (``bench.capture.DURABLE_SETTINGS``) holds six copies
of a pgbench database, each with the keyed table ``bench_bulk``:

  * ``baseline``       -- no trigger;
  * ``audited``        -- pgaudit-kit installed; the four pgbench tables, ``bench_bulk`` and
                          ``bench_truncate`` enrolled with default options (statement capture); its writers
                          seal at their commit;
  * ``audited_row``    -- the same, enrolled with ``CaptureOptions(capture_mode="row")`` (row-level capture
                          triggers, the cheapest for single-row statements), and a sealing follower,
                          ``python -m pgaudit_kit --dsn ... seal --follow --interval 0.5``, running for this
                          database from before the warm-up to the end of the measurements: its writers do not
                          seal at their commit, and the follower's CPU is part of the measurement on purpose
                          (it is stopped with SIGTERM at the end; its first and last output lines are logged,
                          the last one also reported);
  * ``audited_follower`` -- default options (statement capture: chunks for statements of 32 rows or more,
                          revision 0010) and a sealing follower, as ``audited_row``;
  * ``jsonb_trigger``  -- the minimal jsonb row trigger: AFTER INSERT/UPDATE/DELETE FOR EACH ROW, one
                          INSERT of (table, operation, to_jsonb(row)) into an unindexed log table;
  * ``floor``          -- the least any trigger-based, in-transaction capture can do: a statement-level
                          AFTER trigger per table that inserts one constant row into an unindexed table.

The triggers of ``jsonb_trigger`` and ``floor`` are on the four pgbench tables and ``bench_bulk``. The kit
variants (``KIT_VARIANTS``: audited, audited_row, audited_follower) are each held to every target below, each
verdict named after its variant.

    python -m bench.reference --json /tmp/reference.json   # the full run, from the repo root (about 25 minutes)
    python -m bench.reference --quick                      # smoke run, a few minutes

Measured, in this order (after an untimed 3-second pgbench run per database):

  1. tpcb: ``pgbench -n`` tpcb-like at each of --clients, --duration seconds a run, --repeat repetitions.
     Every repetition runs each database once, in an order rotated between repetitions (and reversed every
     other one); a ratio is the median over repetitions of the ratio of that repetition's runs. Reported:
     tps and tps/baseline per variant, WAL bytes per transaction per variant over all runs. Targets per kit
     variant and client count: tps/jsonb_trigger >= 0.80, tps/baseline >= 0.70 (at every client count),
     WAL bytes per transaction / baseline's <= 1.6.
  2. storage: growth of every table of schema pgaudit_kit (pg_total_relation_size: indexes and TOAST
     included, each listed) of each kit database over its own tpcb runs, per I/U/D/T event recorded in them;
     event + transaction, block (the sealed log) and the total of all tables (target <= 300 bytes per change).
  3. serializable: default_transaction_isolation=serializable and enable_seqscan=off (PGOPTIONS; see
     SERIALIZABLE_ENV), ``--max-tries=1
     --failures-detailed`` (pgbench 15 or later), --serializable-clients clients, --duration seconds,
     --repeat rotated repetitions, two scripts: one UPDATE of a random pgbench_accounts row, and the builtin
     tpcb-like. Reported: median tps, and serialization failures / (committed + failed) over all runs;
     target: the kit variant's rate minus baseline's <= 1 percentage point.
  4. bulk: 100,000 rows, each operation one timed transaction (commit included) in a fresh session, all
     variants in rotated order, --bulk-repeat repetitions: ``UPDATE pgbench_accounts SET abalance =
     abalance + 1 WHERE aid <= 100000``, ``INSERT INTO bench_bulk ... SELECT`` and ``COPY bench_bulk FROM
     STDIN``. Ratio: median of variant time / baseline time; targets per kit variant: UPDATE <= 2.0,
     INSERT ... SELECT <= 3.0, COPY <= 3.0 (audited_row shows what row capture costs in bulk).
  5. truncate: --truncate-rows rows (1,000,000 by default) put into the empty table ``bench_truncate``
     (shaped as bench_bulk) by one INSERT ... SELECT, then removed by one TRUNCATE, in baseline and each kit
     variant, each timed as one transaction in a fresh session, once. Target per kit variant: its TRUNCATE
     takes no longer than its INSERT ... SELECT of the same rows.

Each timed pgbench run and bulk operation starts after VACUUM of the benchmark tables and a CHECKPOINT.
Progress goes to stderr, the report (PASS/MISS against each target) to stdout, every number with the
machine, the source and kit revisions, the sealing followers' output and the arguments to --json. Not a
test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.capture import (
    BULK_OPERATIONS,
    BULK_TABLE,
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    PgbenchRun,
    StorageSnapshot,
    bulk_run,
    connect,
    create_pgbench_databases,
    insert_select,
    log,
    machine_info,
    median,
    parse_number,
    rotation,
    run_pgbench,
    settle,
    source_revision,
    storage_snapshot,
    timed_transaction,
    tpcb_run,
    verdict,
)
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

# The kit's variants: each is held to every target, in verdicts named after it.
KIT_VARIANTS = ("audited", "audited_row", "audited_follower")
KIT_OPTIONS = {"audited": CaptureOptions(), "audited_row": CaptureOptions(capture_mode="row"),
               "audited_follower": CaptureOptions()}
SEAL_FOLLOWED = ("audited_row", "audited_follower")  # a `seal --follow` process seals for these; their writers do not
SEAL_FOLLOW_INTERVAL = 0.5  # seconds
VARIANTS = ("baseline", *KIT_VARIANTS, "jsonb_trigger", "floor")
TRUNCATE_VARIANTS = ("baseline", *KIT_VARIANTS)
TRUNCATE_TABLE = "bench_truncate"
BULK_ROWS = 100_000
REPO_ROOT = Path(__file__).resolve().parent.parent

# Issue 15's targets, for each kit variant.
VS_JSONB_TARGET = 0.80  # kit tps / jsonb_trigger tps, at least
VS_BASELINE_TARGET = 0.70  # kit tps / baseline tps, at least, at every client count
WAL_RATIO_TARGET = 1.6  # kit WAL bytes per transaction / baseline's, at most
STORAGE_TARGET = 300.0  # bytes of all pgaudit_kit tables per change recorded, at most
BULK_TARGETS = {"update": 2.0, "insert_select": 3.0, "copy": 3.0}  # kit time / baseline time, at most
SERIALIZABLE_TARGET_PP = 1.0  # kit failure rate minus baseline's, percentage points, at most

QUICK = {"duration": 3, "repeat": 1, "bulk_repeat": 1, "clients": "1,4", "truncate_rows": 50_000}

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

# enable_seqscan=off: every UPDATE and SELECT by key reads its row through the primary key, as it does in an
# application whose tables span more than a page. pgbench's branches and tellers fit in one page after a
# VACUUM, but earlier runs leave them as many pages as that variant's throughput left dead rows, so a variant
# got a sequential scan or an index scan depending on its own speed; a sequential scan under SERIALIZABLE
# locks the whole table, and tpcb-like then fails 85% of its transactions against 38% (measured 2026-12-06:
# the same variants at 85% or 39% from one run to the next). The comparison would measure that plan, not
# capture.
SERIALIZABLE_ENV = {"PGOPTIONS": "-c default_transaction_isolation=serializable -c enable_seqscan=off"}
UPDATE_ACCOUNT_SCRIPT = (
    "\\set aid random(1, 100000 * :scale)\n"
    "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n"
)
SERIALIZABLE_SCRIPTS = ("update_account", "tpcb-like")


# -- setup ---------------------------------------------------------------------------------------------
def prepare(server: TempServer, scale: int) -> str:
    """Create, fill and instrument the databases; returns the kit's schema revision."""
    create_pgbench_databases(server, VARIANTS, scale)
    for setup, trigger, variant in ((JSONB_TRIGGER, JSONB_TRIGGER_ON, "jsonb_trigger"),
                                    (FLOOR_TRIGGER, FLOOR_TRIGGER_ON, "floor")):
        with connect(server, variant) as conn:
            conn.execute(setup)
            for table in (*PGBENCH_TABLES, BULK_TABLE):
                conn.execute(sql.SQL(trigger).format(sql.Identifier(table)))
    for variant in TRUNCATE_VARIANTS:
        with connect(server, variant) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                sql.Identifier(TRUNCATE_TABLE), sql.Identifier(BULK_TABLE)))
    revisions = set()
    for variant in KIT_VARIANTS:
        options = KIT_OPTIONS[variant]
        log(f"installing pgaudit-kit in {variant} and enrolling its tables "
            f"(capture mode {options.capture_mode or 'default'})")
        revisions.add(installer.install(connector(server.dsn(variant))).after)
        with connect(server, variant) as conn:
            enable_tables(conn, [*PGBENCH_TABLES, BULK_TABLE, TRUNCATE_TABLE], options)
    return ", ".join(sorted(revisions))


@dataclass
class FollowerStatus:
    variant: str
    first_line: str = ""
    last_line: str = ""
    exit_code: int | None = None
    ran_throughout: bool = False  # still running when stopped, and exited 0


@contextmanager
def seal_follower(server: TempServer, variant: str) -> Iterator[FollowerStatus]:
    """`seal --follow` for the database of variant while the block runs, then SIGTERM and wait. The status
    is complete when the block has ended; a follower that exits early is reported, not raised."""
    status = FollowerStatus(variant)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # only --dsn says where
    process = subprocess.Popen(
        [sys.executable, "-m", "pgaudit_kit", "--dsn", server.dsn(variant), "seal", "--follow",
         "--interval", str(SEAL_FOLLOW_INTERVAL)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT,
    )
    try:
        assert process.stdout is not None
        status.first_line = process.stdout.readline().strip()  # "following: ...", or "" when it exited
        log(f"  {variant} seal follower, pid {process.pid}: {status.first_line or '(no output)'}")
        if not status.first_line:
            process.wait(timeout=30)
            raise RuntimeError(f"seal --follow for {variant} did not start (its stderr is logged above)")
        yield status
    finally:
        running = process.poll() is None
        if running:
            process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        lines = [line for line in (status.first_line, *out.splitlines()) if line.strip()]
        status.last_line = lines[-1].strip() if lines else ""
        status.exit_code = process.returncode
        status.ran_throughout = running and process.returncode == 0
        log(f"  {variant} seal follower {'stopped' if running else 'HAD EXITED'}, exit {process.returncode}: "
            f"{status.last_line or '(no output)'}")
        if err.strip():
            log(f"  {variant} seal follower stderr:\n{err.rstrip()}")


def paired(reps: Sequence[dict[str, float]], variant: str, reference: str) -> float:
    """Median over repetitions of variant/reference, each repetition against its own reference run."""
    return median([rep[variant] / rep[reference] for rep in reps])


# -- tpcb ----------------------------------------------------------------------------------------------
def tpcb_summary(clients: int, reps: Sequence[dict[str, PgbenchRun]]) -> dict[str, Any]:
    tps = [{name: r[name].tps for name in VARIANTS} for r in reps]
    wal = {name: sum(r[name].wal_bytes for r in reps) / sum(r[name].transactions for r in reps)
           for name in VARIANTS}
    kit = {}
    for name in KIT_VARIANTS:
        vs_baseline, vs_jsonb = paired(tps, name, "baseline"), paired(tps, name, "jsonb_trigger")
        wal_ratio = wal[name] / wal["baseline"]
        kit[name] = {"vs_baseline": vs_baseline, "vs_baseline_met": vs_baseline >= VS_BASELINE_TARGET,
                     "vs_jsonb": vs_jsonb, "vs_jsonb_met": vs_jsonb >= VS_JSONB_TARGET,
                     "wal_ratio": wal_ratio, "wal_ratio_met": wal_ratio <= WAL_RATIO_TARGET}
    return {
        "clients": clients,
        "tps": {name: median([t[name] for t in tps]) for name in VARIANTS},
        "ratio": {name: paired(tps, name, "baseline") for name in VARIANTS[1:]},
        "wal_per_txn": wal,
        "kit": kit,
        "runs": [asdict(r[name]) for r in reps for name in VARIANTS],
    }


def tpcb(server: TempServer, conns: dict[str, psycopg.Connection[Any]], clients_list: Sequence[int],
         duration: int, repeat: int) -> list[dict[str, Any]]:
    results = []
    for clients in clients_list:
        reps = [{name: tpcb_run(server, conns[name], name, clients, duration) for name in rotation(VARIANTS, rep)}
                for rep in range(repeat)]
        results.append(tpcb_summary(clients, reps))
    return results


# -- storage -------------------------------------------------------------------------------------------
@dataclass
class KitStorage:
    sizes: dict[str, int]  # every table of schema pgaudit_kit, indexes and TOAST included
    counts: StorageSnapshot  # changes (I/U/D/T events), transactions and sealed events recorded


def kit_storage(conn: psycopg.Connection[Any]) -> KitStorage:
    """Sizes of all tables of schema pgaudit_kit, so that a table the kit adds is counted without a change
    here (a partitioned table counts through its partitions)."""
    rows = conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
        " WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    ).fetchall()
    return KitStorage({str(name): int(size) for name, size in rows}, storage_snapshot(conn))


def storage_per_change(variant: str, before: KitStorage, after: KitStorage) -> dict[str, Any]:
    """Growth per change recorded between the two snapshots. Raises RuntimeError if none was."""
    changes = after.counts.changes - before.counts.changes
    if changes <= 0:
        raise RuntimeError(f"no changes were recorded in {variant} during the pgbench runs")
    growth = {name: after.sizes.get(name, 0) - before.sizes.get(name, 0)
              for name in sorted(after.sizes.keys() | before.sizes.keys())}
    total = sum(growth.values()) / changes
    return {
        "changes": changes,
        "transactions": after.counts.transactions - before.counts.transactions,
        "sealed_events": after.counts.sealed_events - before.counts.sealed_events,
        "event_transaction_bytes_per_change": (growth.get("event", 0) + growth.get("transaction", 0)) / changes,
        "block_bytes_per_change": growth.get("block", 0) / changes,
        "total_bytes_per_change": total,
        "target": STORAGE_TARGET,
        "met": total <= STORAGE_TARGET,
        "bytes_per_change_by_table": {name: g / changes for name, g in growth.items()},
        "bytes_by_table_after": after.sizes,
    }


# -- serializable --------------------------------------------------------------------------------------
@dataclass
class SerializableRun:
    variant: str
    script: str
    clients: int
    tps: float
    committed: int
    failed: int
    serialization_failures: int
    deadlock_failures: int


def serializable_run(server: TempServer, conn: psycopg.Connection[Any], variant: str, script: str,
                     script_args: Sequence[str], clients: int, duration: int) -> SerializableRun:
    settle(conn)
    out = run_pgbench(server, variant, [
        "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(duration),
        "--max-tries=1", "--failures-detailed", *script_args,
    ], extra_env=SERIALIZABLE_ENV)
    run = SerializableRun(
        variant=variant, script=script, clients=clients,
        tps=parse_number(r"tps = ([0-9.]+) \(without initial connection time\)", out),
        # "N" with -T ("N/M" with -t); failures print as "N (x.xxx%)".
        committed=int(parse_number(r"number of transactions actually processed: (\d+)", out)),
        failed=int(parse_number(r"number of failed transactions: (\d+)", out)),
        serialization_failures=int(parse_number(r"number of serialization failures: (\d+)", out)),
        deadlock_failures=int(parse_number(r"number of deadlock failures: (\d+)", out)),
    )
    log(f"  {variant:13} {script:14} serializable: {run.tps:8.1f} tps, {failure_pct([run]):6.2f}% "
        "serialization failures")
    return run


def failure_pct(runs: Sequence[SerializableRun]) -> float:
    """Serialization failures / (committed + failed), in percent, over all the runs."""
    attempted = sum(r.committed + r.failed for r in runs)
    return 100.0 * sum(r.serialization_failures for r in runs) / attempted if attempted else 0.0


def serializable_summary(script: str, runs: Sequence[SerializableRun]) -> dict[str, Any]:
    by_variant = {name: [r for r in runs if r.variant == name] for name in VARIANTS}
    pct = {name: failure_pct(by_variant[name]) for name in VARIANTS}
    difference = {name: pct[name] - pct["baseline"] for name in KIT_VARIANTS}
    return {
        "script": script,
        "tps": {name: median([r.tps for r in by_variant[name]]) for name in VARIANTS},
        "failure_pct": pct,
        "minus_baseline_pp": difference,
        "met": {name: difference[name] <= SERIALIZABLE_TARGET_PP for name in KIT_VARIANTS},
        "runs": [asdict(r) for r in runs],
    }


def serializable(server: TempServer, conns: dict[str, psycopg.Connection[Any]], scale: int, clients: int,
                 duration: int, repeat: int) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="pgaudit-kit-bench-") as folder:
        script_file = Path(folder) / "update_account.sql"
        script_file.write_text(UPDATE_ACCOUNT_SCRIPT, encoding="utf-8")
        # pgbench sets :scale from pgbench_branches for builtin scripts only; a custom one needs -s.
        script_args = {"update_account": ["-s", str(scale), "-f", str(script_file)], "tpcb-like": ["-b", "tpcb-like"]}
        for script in SERIALIZABLE_SCRIPTS:
            runs = [serializable_run(server, conns[name], name, script, script_args[script], clients, duration)
                    for rep in range(repeat) for name in rotation(VARIANTS, rep)]
            results.append(serializable_summary(script, runs))
    return results


# -- bulk ----------------------------------------------------------------------------------------------
def bulk_summary(operation: str, times: Sequence[dict[str, float]], wal: Sequence[dict[str, float]]) -> dict[str, Any]:
    ratio = {name: paired(times, name, "baseline") for name in VARIANTS[1:]}
    return {
        "operation": operation,
        "rows": BULK_ROWS,
        "seconds": {name: median([t[name] for t in times]) for name in VARIANTS},
        "ratio": ratio,
        "target": BULK_TARGETS[operation],
        "met": {name: ratio[name] <= BULK_TARGETS[operation] for name in KIT_VARIANTS},
        "wal_per_row": {name: median([w[name] for w in wal]) for name in VARIANTS},
        "runs_s": {name: [t[name] for t in times] for name in VARIANTS},
    }


def bulk(server: TempServer, repeat: int) -> list[dict[str, Any]]:
    times: dict[str, list[dict[str, float]]] = {operation: [] for operation in BULK_OPERATIONS}
    wal: dict[str, list[dict[str, float]]] = {operation: [] for operation in BULK_OPERATIONS}
    for rep in range(repeat):
        for operation in BULK_OPERATIONS:
            times[operation].append({})
            wal[operation].append({})
            for name in rotation(VARIANTS, rep):
                # A fresh session: one that ran single-row DML may reuse a cached one-row plan of a capture
                # function (bench/RESULTS.md, "Plan cache").
                with connect(server, name) as conn:
                    elapsed, wal_bytes = bulk_run(conn, operation, BULK_ROWS, rep)
                times[operation][rep][name] = elapsed
                wal[operation][rep][name] = wal_bytes / BULK_ROWS
                log(f"  {name:13} {operation:13}: {elapsed:7.3f} s, {wal_bytes / BULK_ROWS:5.0f} WAL bytes/row")
    return [bulk_summary(operation, times[operation], wal[operation]) for operation in BULK_OPERATIONS]


# -- truncate ------------------------------------------------------------------------------------------
def timed_in_fresh_session(server: TempServer, variant: str,
                           work: Callable[[psycopg.Connection[Any]], object]) -> tuple[float, int]:
    """Seconds and WAL bytes of work as one transaction in a new session, after VACUUM and CHECKPOINT."""
    with connect(server, variant) as conn:
        conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(TRUNCATE_TABLE)))
        conn.execute("CHECKPOINT")
        return timed_transaction(conn, lambda: work(conn))


def truncate(server: TempServer, rows: int) -> dict[str, Any]:
    statement = sql.SQL("TRUNCATE {}").format(sql.Identifier(TRUNCATE_TABLE))
    seconds: dict[str, dict[str, float]] = {}
    wal: dict[str, dict[str, int]] = {}
    for name in TRUNCATE_VARIANTS:
        fill = timed_in_fresh_session(server, name, lambda conn: insert_select(conn, TRUNCATE_TABLE, 1, rows))
        empty = timed_in_fresh_session(server, name, lambda conn: conn.execute(statement))
        seconds[name] = {"insert_select": fill[0], "truncate": empty[0]}
        wal[name] = {"insert_select": fill[1], "truncate": empty[1]}
        log(f"  {name:13} {rows} rows: INSERT ... SELECT {fill[0]:7.3f} s, TRUNCATE {empty[0]:7.3f} s")
    ratio = {name: seconds[name]["truncate"] / seconds[name]["insert_select"] for name in KIT_VARIANTS}
    return {"rows": rows, "seconds": seconds, "wal_bytes": wal, "truncate_vs_insert_select": ratio,
            "met": {name: ratio[name] <= 1.0 for name in KIT_VARIANTS}}


# -- report --------------------------------------------------------------------------------------------
def target_verdicts(results: dict[str, Any]) -> dict[str, bool]:
    """Every target of every kit variant, labelled with the variant."""
    verdicts = {}
    for t in results["tpcb"]:
        for name, kit in t["kit"].items():
            verdicts[f"tpcb {t['clients']} clients {name}/baseline"] = kit["vs_baseline_met"]
            verdicts[f"tpcb {t['clients']} clients {name}/jsonb_trigger"] = kit["vs_jsonb_met"]
            verdicts[f"tpcb {t['clients']} clients WAL {name}/baseline"] = kit["wal_ratio_met"]
    for name, storage in results["storage"].items():
        verdicts[f"storage per change {name}"] = storage["met"]
    for s in results["serializable"]:
        for name, met in s["met"].items():
            verdicts[f"serializable {s['script']} failure rate {name}"] = met
    for b in results["bulk"]:
        for name, met in b["met"].items():
            verdicts[f"bulk {b['operation']} {name}"] = met
    for name, met in results["truncate"]["met"].items():
        verdicts[f"truncate {name}"] = met
    return verdicts


def report_header(results: dict[str, Any]) -> list[str]:
    machine, source = results["machine"], results["source"]
    lines = [
        f"Machine:    {machine['nproc']} CPUs, {machine['cpu_model']}, {machine['memory_gib']} GiB RAM; load "
        f"{machine['load_average_at_start']} at start, {results['load_average_at_end']} at end",
        f"PostgreSQL: {machine['postgresql']}",
        f"Source:     {source['commit']}, {source['uncommitted']} uncommitted change(s) under sql/, migrations/, "
        f"pgaudit_kit/; kit schema revision {results['kit_revision']}",
        f"Command:    {results['command']}  ({results['date']})",
    ]
    for name in KIT_VARIANTS:
        mode = KIT_OPTIONS[name].capture_mode or "default (statement)"
        follower = results["seal_followers"].get(name)
        if follower is None:
            lines.append(f"{'Kit:' if name == KIT_VARIANTS[0] else '':12}{name:12} capture mode {mode}; "
                         "writers seal at commit")
            continue
        state = "ran throughout" if follower["ran_throughout"] else "EXITED EARLY: not all numbers are followed"
        lines += [f"{'Kit:' if name == KIT_VARIANTS[0] else '':12}{name:12} capture mode {mode}; a follower seals "
                  f"(seal --follow --interval {SEAL_FOLLOW_INTERVAL:g}: {state}, exit {follower['exit_code']})",
                  f"{'':25}its last line: {follower['last_line']}"]
    return lines


def report_tpcb(results: dict[str, Any]) -> list[str]:
    args = results["args"]
    lines = [
        "",
        f"pgbench tpcb-like, scale {args['scale']}, {args['duration']} s per run, {args['repeat']} repetition(s): "
        "median tps; ratio/baseline (tps) per variant",
        f"{'clients':>7} {'baseline tps':>12}  " + "  ".join(f"{name:>14}" for name in VARIANTS[1:]),
    ]
    for t in results["tpcb"]:
        cells = "  ".join(f"{t['ratio'][name]:>6.3f} ({t['tps'][name]:>5.0f})" for name in VARIANTS[1:])
        lines.append(f"{t['clients']:>7} {t['tps']['baseline']:>12.1f}  {cells}")
    lines += ["WAL bytes per transaction",
              f"{'clients':>7} " + " ".join(f"{name:>13}" for name in VARIANTS)]
    for t in results["tpcb"]:
        lines.append(f"{t['clients']:>7} " + " ".join(f"{t['wal_per_txn'][name]:>13.0f}" for name in VARIANTS))
    lines += ["Kit targets",
              f"{'clients':>7} {'kit variant':12} {f'tps/baseline >= {VS_BASELINE_TARGET:.2f}':>22}  "
              f"{f'tps/jsonb_trigger >= {VS_JSONB_TARGET:.2f}':>27}  {f'WAL/baseline <= {WAL_RATIO_TARGET}':>19}"]
    for t in results["tpcb"]:
        for name, kit in t["kit"].items():
            lines.append(f"{t['clients']:>7} {name:12} {kit['vs_baseline']:>17.3f} {verdict(kit['vs_baseline_met'])}  "
                         f"{kit['vs_jsonb']:>22.3f} {verdict(kit['vs_jsonb_met'])}  "
                         f"{kit['wal_ratio']:>14.2f} {verdict(kit['wal_ratio_met'])}")
    return lines


def report_storage(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Audit storage per change recorded in each kit database during its tpcb runs, bytes per change",
        f"{'kit variant':12} {'changes':>9} {'transactions':>12} {'sealed':>9} {'event+transaction':>17} "
        f"{'block':>7} {'all pgaudit_kit tables':>22} (<= {STORAGE_TARGET:.0f})",
    ]
    for name, s in results["storage"].items():
        lines.append(f"{name:12} {s['changes']:>9,} {s['transactions']:>12,} {s['sealed_events']:>9,} "
                     f"{s['event_transaction_bytes_per_change']:>17.1f} {s['block_bytes_per_change']:>7.1f} "
                     f"{s['total_bytes_per_change']:>22.1f} {verdict(s['met'])}")
    for name, s in results["storage"].items():
        by_table = ", ".join(f"{table} {value:.1f}" for table, value in s["bytes_per_change_by_table"].items()
                             if value)
        lines.append(f"  {name} by table (non-zero): {by_table}")
    return lines


def report_serializable(results: dict[str, Any]) -> list[str]:
    args = results["args"]
    lines = [
        "",
        f"SERIALIZABLE, {args['serializable_clients']} clients, {args['duration']} s per run, --max-tries=1: "
        "median tps (serialization failures / attempted, %)",
        f"{'script':>14}  " + "  ".join(f"{name:>17}" for name in VARIANTS),
    ]
    for s in results["serializable"]:
        cells = "  ".join(f"{s['tps'][name]:>7.0f} ({s['failure_pct'][name]:>6.2f}%)" for name in VARIANTS)
        lines.append(f"{s['script']:>14}  {cells}")
    lines += [f"Kit targets: failure rate minus baseline's <= {SERIALIZABLE_TARGET_PP:.0f} pp",
              f"{'kit variant':14}" + "".join(f"  {s['script']:>14}" for s in results["serializable"])]
    for name in KIT_VARIANTS:
        lines.append(f"{name:14}" + "".join(f"  {s['minus_baseline_pp'][name]:>+6.2f} pp {verdict(s['met'][name])}"
                                            for s in results["serializable"]))
    return lines


def report_bulk(results: dict[str, Any]) -> list[str]:
    def cell(b: dict[str, Any], name: str) -> str:
        text = f"{b['ratio'][name]:.2f} ({b['seconds'][name]:.3f})"
        return f"{text} {verdict(b['met'][name])}" if name in KIT_VARIANTS else text

    widths = {name: 19 if name in KIT_VARIANTS else 14 for name in VARIANTS[1:]}
    lines = [
        "",
        f"Bulk, {BULK_ROWS:,} rows, one transaction in a fresh session, {results['args']['bulk_repeat']} "
        "repetition(s): ratio/baseline (median s) per variant",
        f"{'operation':>13} {'baseline s':>10} {'target':>6}  "
        + "  ".join(f"{name:>{widths[name]}}" for name in VARIANTS[1:]),
    ]
    for b in results["bulk"]:
        cells = "  ".join(f"{cell(b, name):>{widths[name]}}" for name in VARIANTS[1:])
        lines.append(f"{b['operation']:>13} {b['seconds']['baseline']:>10.3f} {'<=' + str(b['target']):>6}  {cells}")
    return lines


def report_truncate(t: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"TRUNCATE of {t['rows']:,} rows, one transaction in a fresh session, once: seconds",
        f"{'variant':12} {'INSERT ... SELECT':>17} {'TRUNCATE':>9}  TRUNCATE / INSERT ... SELECT (<= 1.0)",
    ]
    for name, seconds in t["seconds"].items():
        line = f"{name:12} {seconds['insert_select']:>17.3f} {seconds['truncate']:>9.3f}"
        if name in t["met"]:
            line += f"  {t['truncate_vs_insert_select'][name]:>8.3f} {verdict(t['met'][name])}"
        lines.append(line)
    return lines


def report(results: dict[str, Any]) -> str:
    lines = [*report_header(results), *report_tpcb(results), *report_storage(results),
             *report_serializable(results), *report_bulk(results), *report_truncate(results["truncate"])]
    missed = [name for name, met in results["targets"].items() if not met]
    lines += ["", f"Targets: {len(results['targets']) - len(missed)} of {len(results['targets'])} met"
              + ("; missed:" if missed else "")]
    for label in missed:  # as many labels a line as fit, none split
        if len(lines[-1]) + len(label) > 110 or not lines[-1].startswith("  "):
            lines.append(" ")
        lines[-1] += f" {label},"
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    add("--clients", default="1,4,16", help="comma-separated tpcb client counts (default 1,4,16)")
    add("--duration", type=int, default=12, help="seconds per pgbench run (default 12)")
    add("--repeat", type=int, default=3, help="repetitions of the pgbench runs (default 3)")
    add("--serializable-clients", type=int, default=8, help="clients of the SERIALIZABLE runs (default 8)")
    add("--bulk-repeat", type=int, default=3, help="repetitions of each bulk operation (default 3)")
    add("--truncate-rows", type=int, default=1_000_000, help="rows of the TRUNCATE measurement (default 1000000)")
    add("--quick", action="store_true",
        help="smoke run: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + " unless given")
    add("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    if args.quick:  # explicit options still win over the quick defaults
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if min(args.repeat, args.bulk_repeat, args.serializable_clients, args.truncate_rows) < 1 \
            or not args.clients or min(args.clients) < 1:
        parser.error("--repeat, --bulk-repeat, --serializable-clients, --truncate-rows and --clients must be "
                     "positive")
    if args.scale < 1:
        parser.error("--scale must be at least 1 (the bulk UPDATE changes 100,000 accounts)")
    return args


def measure(server: TempServer, args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        # From before the warm-up to the end: every measurement of these variants runs with their follower.
        followers = [stack.enter_context(seal_follower(server, name)) for name in SEAL_FOLLOWED]
        conns = {name: stack.enter_context(connect(server, name)) for name in VARIANTS}
        for name in VARIANTS:  # untimed, so that no variant runs first on a cold cache
            run_pgbench(server, name, ["-n", "-c", "4", "-j", "2", "-T", "3"])
        before = {name: kit_storage(conns[name]) for name in KIT_VARIANTS}  # the window covers tpcb only
        log("pgbench tpcb-like")
        tpcb_results = tpcb(server, conns, args.clients, args.duration, args.repeat)
        storage = {name: storage_per_change(name, before[name], kit_storage(conns[name])) for name in KIT_VARIANTS}
        log("pgbench under SERIALIZABLE")
        serializable_results = serializable(server, conns, args.scale, args.serializable_clients, args.duration,
                                            args.repeat)
        for conn in conns.values():
            conn.close()
        log(f"bulk operations, {BULK_ROWS} rows")
        bulk_results = bulk(server, args.bulk_repeat)
        log(f"TRUNCATE, {args.truncate_rows} rows")
        truncate_result = truncate(server, args.truncate_rows)
    return {"tpcb": tpcb_results, "storage": storage, "serializable": serializable_results,
            "bulk": bulk_results, "truncate": truncate_result,
            "seal_followers": {f.variant: asdict(f) for f in followers}}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python -m bench.reference", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    source = source_revision()  # before the run: the SQL is read when the kit is installed
    with TempServer(settings=DURABLE_SETTINGS) as server:
        log(f"server on port {server.port} ({server.bindir})")
        revision = prepare(server, args.scale)
        machine = machine_info(server)
        measured = measure(server, args)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command, "source": source,
        "kit_revision": revision, "machine": machine, "args": vars(args),
        "elapsed_s": round(time.monotonic() - started, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()], **measured,
    }
    results["targets"] = target_verdicts(results)
    results["all_targets_met"] = all(results["targets"].values())
    print(report(results))
    log(f"total time {results['elapsed_s']:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
