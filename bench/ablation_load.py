"""The write path's costs under load: pgbench tpcb-like at several client counts, each cost removed in turn.

    python -m bench.ablation_load --clients 4,16 --duration 12 --repeat 3 --json bench/ablation_load.json

bench.ablation prices each piece in one backend's CPU; at 4 and 16 clients on two cores a piece also costs by
what it does to the others (longer row-lock windows on pgbench_branches, the follower's CPU, hot index pages),
so this measures throughput the way bench.reference does (durable settings, equal-time runs, rotated order,
median of each repetition's ratio). Variants, in one run:

  * ``baseline``, ``jsonb_trigger`` -- as in bench.reference;
  * ``definer_trigger``   -- the jsonb trigger made SECURITY DEFINER with a pinned ``search_path`` and an
                             identity key on its table (what any enforced capture needs: the writer cannot
                             write or skip the log itself);
  * ``definer_whowhere``  -- and one who/where row per transaction (keyed by xid, guarded by a
                             transaction-local setting): the least an attributable record needs. No sealing,
                             no review index: a floor for any design that keeps the kit's guarantees, sealing
                             aside;
  * ``kit_row``           -- the kit, row capture, a ``seal --follow`` process sealing as it goes;
  * ``kit_row_unsealed``  -- the same writers with the seal lease held and nobody sealing: the follower's
                             share of the two cores;
  * ``kit_row_no_review`` -- ``kit_row`` without the event table's review indexes (event_row_idx,
                             event_ddl_control_idx, two BRIN);
  * ``kit_row_no_index``  -- and without the transaction table's four secondary indexes: the kit with no
                             index that only review needs.
The last two are not configurations anyone should run: they price a part of the kit.

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from operator import attrgetter
from typing import Any

from psycopg import sql

from bench.ablation import REVIEW_INDEXES, TXN_INDEXES, drop_kit_indexes
from bench.capture import (
    DURABLE_SETTINGS,
    PGBENCH_TABLES,
    PgbenchRun,
    connect,
    create_pgbench_databases,
    log,
    machine_info,
    median,
    paired_ratio,
    rotation,
    tpcb_run,
    write_run,
)
from bench.reference import JSONB_TRIGGER, JSONB_TRIGGER_ON, seal_follower
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

VARIANTS = ("baseline", "jsonb_trigger", "definer_trigger", "definer_whowhere", "kit_row", "kit_row_unsealed",
            "kit_row_no_review", "kit_row_no_index")
KIT_VARIANTS = VARIANTS[4:]
FOLLOWED = ("kit_row", "kit_row_no_review", "kit_row_no_index")
DROPPED = {"kit_row_no_review": REVIEW_INDEXES, "kit_row_no_index": REVIEW_INDEXES + TXN_INDEXES}

# The jsonb trigger as enforced capture needs it: its owner writes the log, the caller cannot.
DEFINER_TRIGGER = """
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl text NOT NULL, op text NOT NULL,
                        data jsonb);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.audit_log (tbl, op, data)
  VALUES (TG_TABLE_NAME, TG_OP, pg_catalog.to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
  RETURN NULL;
END $$;
"""
# ... and one who/where row per transaction, written by the first captured row of the transaction.
DEFINER_WHOWHERE_TRIGGER = """
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, xid xid8 NOT NULL, tbl text NOT NULL,
                        op text NOT NULL, data jsonb);
CREATE TABLE audit_transaction (xid xid8 PRIMARY KEY, xact_start timestamptz NOT NULL, session_role text NOT NULL,
                                acting_role text NOT NULL, application_name text, client_addr inet,
                                backend_pid integer NOT NULL);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF pg_catalog.current_setting('audit.xid', true) IS DISTINCT FROM pg_catalog.pg_current_xact_id()::text THEN
    INSERT INTO public.audit_transaction
    VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.transaction_timestamp(), session_user,
            pg_catalog.current_setting('role'), pg_catalog.current_setting('application_name'),
            pg_catalog.inet_client_addr(), pg_catalog.pg_backend_pid())
    ON CONFLICT (xid) DO NOTHING;
    PERFORM pg_catalog.set_config('audit.xid', pg_catalog.pg_current_xact_id()::text, true);
  END IF;
  INSERT INTO public.audit_log (xid, tbl, op, data)
  VALUES (pg_catalog.pg_current_xact_id(), TG_TABLE_NAME, TG_OP,
          pg_catalog.to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
  RETURN NULL;
END $$;
"""
TPS = attrgetter("tps")
HAND_MADE = {"jsonb_trigger": JSONB_TRIGGER, "definer_trigger": DEFINER_TRIGGER,
             "definer_whowhere": DEFINER_WHOWHERE_TRIGGER}


def prepare(server: TempServer, scale: int) -> str:
    create_pgbench_databases(server, VARIANTS, scale)
    for name, setup in HAND_MADE.items():
        with connect(server, name) as conn:
            conn.execute(setup)
            for table in PGBENCH_TABLES:
                conn.execute(sql.SQL(JSONB_TRIGGER_ON).format(sql.Identifier(table)))
    revision = ""
    for name in KIT_VARIANTS:
        revision = installer.install(connector(server.dsn(name))).after
        with connect(server, name) as conn:
            enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row"))
            drop_kit_indexes(conn, DROPPED.get(name, ()), "bench.ablation_load: price the indexes")
    return revision


def run_variant(server: TempServer, conn: Any, name: str, clients: int, duration: int) -> PgbenchRun:
    with ExitStack() as stack:
        if name in FOLLOWED:
            stack.enter_context(seal_follower(server, name))
        elif name == "kit_row_unsealed":
            conn.execute("SELECT pgaudit_kit.renew_seal_lease(%s)", (duration + 60,))  # writers leave sealing
        return tpcb_run(server, conn, name, clients, duration)


def measure(server: TempServer, clients_list: Sequence[int], duration: int, repeat: int) -> dict[str, Any]:
    conns = {name: connect(server, name) for name in VARIANTS}
    results: dict[str, Any] = {}
    for clients in clients_list:
        runs: dict[str, list[PgbenchRun]] = {name: [] for name in VARIANTS}
        for rep in range(repeat):
            for name in rotation(VARIANTS, rep):
                runs[name].append(run_variant(server, conns[name], name, clients, duration))
        results[str(clients)] = {
            name: {"tps": median([r.tps for r in runs[name]]),
                   "vs_baseline": paired_ratio(runs[name], runs["baseline"], TPS),
                   "vs_jsonb": paired_ratio(runs[name], runs["jsonb_trigger"], TPS),
                   "wal_per_txn": sum(r.wal_bytes for r in runs[name]) / sum(r.transactions for r in runs[name])}
            for name in VARIANTS}
    for conn in conns.values():
        conn.close()
    return results


def report(results: dict[str, Any]) -> list[str]:
    lines = ["tpcb-like throughput, median of each repetition's ratio (durable settings, equal-time runs)",
             f"{'variant':<20} " + " ".join(f"{c + ' cl. /base':>12} {'/jsonb':>7}" for c in results)]
    for name in VARIANTS:
        lines.append(f"{name:<20} " + " ".join(f"{r[name]['vs_baseline']:12.3f} {r[name]['vs_jsonb']:7.3f}"
                                               for r in results.values()))
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument("--clients", default="4,16", help="comma-separated client counts (default 4,16)")
    parser.add_argument("--duration", type=int, default=12, help="seconds per pgbench run (default 12)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per variant (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    try:
        args.clients_list = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error(f"--clients: not a comma-separated list of numbers: {args.clients!r}")
    if args.repeat < 1 or args.duration < 1 or min(args.clients_list) < 1:
        parser.error("--repeat, --duration and every client count must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with TempServer(settings=DURABLE_SETTINGS) as server:
        log(f"server on port {server.port}")
        revision = prepare(server, args.scale)
        machine = machine_info(server)
        results = measure(server, args.clients_list, args.duration, args.repeat)
    lines = report(results)
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, {k: v for k, v in vars(args).items() if k != "clients_list"},
                  results=results, report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
