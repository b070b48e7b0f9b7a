"""Where an audited tpcb transaction's work goes, in instructions: each of the kit's costs removed in turn.

    python -m bench.instructions --json bench/instructions.json   # from the repo root; needs valgrind

bench.ablation divides a backend's CPU time by the transactions it ran; on a shared two-core machine that
time moves by +-20 us per transaction between repetitions, which is as much as most single costs of the
kit. This counts instructions instead, which do not move: each variant's pgbench database runs the
server-side tpcb loop of bench.ablation in a single-user backend (``postgres --single``) under valgrind's
callgrind, twice -- WARMUP and WARMUP + N transactions -- and the difference divided by N is the
instructions one transaction costs, start-up and warm-up excluded. Three runs of the same variant gave
1,339.2, 1,341.1 and 1,342.6 k (0.3%: the loop's random keys differ); compare variants within one run,
at one transaction count (the per-transaction figure moves with it: 50 transactions counted give a larger
baseline than 300).

Instructions are not time (cache misses, lock waits and WAL flushes are not in them, and at 16 clients on
two cores the kit's work inside the pgbench_branches row lock costs more than its instructions), but they
attribute: what a piece costs is the difference between ``kit_row`` and the variant without it.

Variants:
  * ``baseline``, ``jsonb_trigger``, ``definer_trigger``, ``definer_whowhere`` -- as in bench.ablation_load
    (definer_whowhere: the floor of enforced, attributed capture);
  * ``kit_row``  -- the kit, row capture, a follower's seal lease held (writers seal nothing);
  * ``kit_row - PIECE`` -- the same with one piece removed (hand-edited copies of the generated capture
    functions, or a dropped index: not configurations anyone should run);
  * ``kit_row - all`` -- every piece removed at once.

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from bench.ablation import LOOPS, REVIEW_INDEXES, TXN_INDEXES, drop_kit_indexes
from bench.ablation_load import HAND_MADE
from bench.capture import PGBENCH_TABLES, connect, create_pgbench_databases, log, machine_info, write_run
from bench.reference import JSONB_TRIGGER_ON
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import FAST_SETTINGS, TempServer
from pgaudit_kit.schema import installer

WARMUP = 50
Rewrite = Callable[[str], str]


def _marks_as_setting(source: str) -> str:
    """The transaction-local setting alone, without the sequence that makes it unforgeable."""
    return source.replace(
        "pgaudit_kit.recorded_xact_is(v_xid)",
        "(COALESCE(pg_catalog.current_setting('pgaudit_kit.recorded_xact', true), '') OPERATOR(pg_catalog.=) "
        "v_xid::pg_catalog.text)",
    ).replace(
        "v_recorded := pgaudit_kit.mark_transaction_recorded();",
        "v_recorded := pg_catalog.set_config('pgaudit_kit.recorded_xact', pg_catalog.pg_current_xact_id()::text, "
        "true) IS NOT NULL;",
    )


# Each piece: capture function rewrite, indexes dropped, triggers dropped.
PIECES: dict[str, tuple[Rewrite | None, tuple[str, ...], tuple[str, ...]]] = {
    "old_values": (lambda s: re.sub(r"\(pg_catalog\.jsonb_object\([^;]*?, NULL\)\), NULL\);", "NULL, NULL);", s),
                   (), ()),
    "transaction_row": (lambda s: re.sub(r"WITH pgaudit_kit_transaction AS \(.*?ON CONFLICT \(xid\) DO NOTHING\)\s*",
                                         "", s, flags=re.S), (), ()),
    "marks": (_marks_as_setting, (), ()),
    "lockdown_check": (lambda s: s.replace("v_recorded := pgaudit_kit.check_lockdown();", ""), (), ()),
    # (the partition name was a piece until revision 0014, which emits it for partitioned tables only)
    "date_style": (lambda s: re.sub(r" SET \"DateStyle\"[^\n]*\n", "\n", s), (), ()),
    "commit_trigger": (None, (), ("pgaudit_kit_seal_at_commit",)),
    **{index: (None, (index,), ()) for index in REVIEW_INDEXES + ("event_xid_id_idx",)},
    "transaction_indexes": (None, TXN_INDEXES, ()),
}
REFERENCES = ("baseline", "jsonb_trigger", "definer_trigger", "definer_whowhere", "kit_row")


def remove_pieces(conn: psycopg.Connection[Any], pieces: Sequence[str]) -> None:
    """Edit the kit in *conn* (row capture enrolled) so that *pieces* are gone, in a maintenance window."""
    functions = [row[0] for row in conn.execute(
        "SELECT pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p "
        "WHERE p.pronamespace = 'pgaudit_kit'::regnamespace AND p.proname ~ '^capture_[0-9]+$'")]
    with conn.transaction():
        conn.execute("SELECT pgaudit_kit.begin_maintenance('bench.instructions: price a piece')")
        for piece in pieces:
            rewrite, _, triggers = PIECES[piece]
            if rewrite is not None:
                edited = [rewrite(source) for source in functions]
                if edited == functions:
                    raise SystemExit(f"bench.instructions: removing {piece} changed no capture function")
                functions = edited
            for trigger in triggers:
                conn.execute(sql.SQL("DROP TRIGGER {} ON pgaudit_kit.transaction").format(sql.Identifier(trigger)))
        for source in functions:
            conn.execute(source)
    drop_kit_indexes(conn, [index for piece in pieces for index in PIECES[piece][1]], "bench.instructions")


def database_name(variant: str) -> str:
    return variant.replace(" - ", "_minus_")


def prepare(server: TempServer, variants: Sequence[str], scale: int) -> str:
    create_pgbench_databases(server, [database_name(v) for v in variants], scale)
    revision = ""
    for variant in variants:
        with connect(server, database_name(variant)) as conn:
            conn.execute(LOOPS)
            if variant in HAND_MADE:
                conn.execute(HAND_MADE[variant])
                for table in PGBENCH_TABLES:
                    conn.execute(sql.SQL(JSONB_TRIGGER_ON).format(sql.Identifier(table)))
        if not variant.startswith("kit_row"):
            continue
        revision = installer.install(connector(server.dsn(database_name(variant)))).after
        with connect(server, database_name(variant)) as conn:
            enable_tables(conn, list(PGBENCH_TABLES), CaptureOptions(capture_mode="row"))
            conn.execute("SELECT pgaudit_kit.renew_seal_lease(3600)")  # a follower's: writers seal nothing
            removed = variant.partition(" - ")[2]
            if removed:
                remove_pieces(conn, list(PIECES) if removed == "all" else [removed])
    return revision


def instructions(server: TempServer, database: str, transactions: int) -> int:
    """Instructions of one single-user backend running the tpcb loop *transactions* times after a warm-up."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", server.tool("postgres"), "--single",
         "-D", str(server.datadir), database],
        input=f"CALL tpcb_loop({WARMUP});\nCALL tpcb_loop({transactions});\n",
        user=server.run_as, capture_output=True, text=True, cwd="/", check=False)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not found:
        raise SystemExit(f"bench.instructions: callgrind failed for {database}: {result.stderr.strip()[-400:]}")
    return int(found.group(1))


def measure(server: TempServer, variants: Sequence[str], transactions: int) -> dict[str, float]:
    per_transaction = {}
    for variant in variants:
        short = instructions(server, database_name(variant), WARMUP)
        long = instructions(server, database_name(variant), WARMUP + transactions)
        per_transaction[variant] = (long - short) / transactions
        log(f"{variant}: {per_transaction[variant] / 1000:.1f} k instructions per transaction")
    return per_transaction


def report(per_transaction: dict[str, float]) -> list[str]:
    base, kit = per_transaction["baseline"], per_transaction["kit_row"]
    lines = ["instructions per tpcb-like transaction (k), single-user backend, callgrind",
             f"{'variant':<36} {'k instr.':>9} {'over baseline':>14} {'piece':>7}"]
    for variant, count in per_transaction.items():
        piece = f"{(kit - count) / 1000:7.1f}" if variant.startswith("kit_row - ") else ""
        lines.append(f"{variant:<36} {count / 1000:9.1f} {(count - base) / 1000:14.1f} {piece:>7}")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=2, help="pgbench scale factor (default 2)")
    parser.add_argument("--transactions", type=int, default=300, help="transactions counted (default 300)")
    parser.add_argument("--pieces", default=",".join(PIECES),
                        help=f"comma-separated pieces to remove in turn (default all: {','.join(PIECES)})")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    args = parser.parse_args(argv)
    args.piece_list = [p for p in args.pieces.split(",") if p]
    unknown = sorted(set(args.piece_list) - set(PIECES))
    if unknown:
        parser.error(f"--pieces: unknown {', '.join(unknown)} (known: {', '.join(PIECES)})")
    if args.scale < 1 or args.transactions < 1:
        parser.error("--scale and --transactions must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("valgrind") is None:
        print("bench.instructions: valgrind is not installed (it counts the instructions)", file=sys.stderr)
        return 2
    variants = list(REFERENCES) + [f"kit_row - {p}" for p in args.piece_list] + ["kit_row - all"]
    server = TempServer(settings={**FAST_SETTINGS, "shared_buffers": "256MB"}).start()
    try:
        revision = prepare(server, variants, args.scale)
        machine = machine_info(server)
        server.halt()  # single-user backends need the data directory to themselves
        per_transaction = measure(server, variants, args.transactions)
    finally:
        server.stop()
    lines = report(per_transaction)
    print("\n".join(lines))
    if args.json:
        write_run(args.json, revision, machine, {k: v for k, v in vars(args).items() if k != "piece_list"},
                  instructions_per_transaction=per_transaction, report=lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
