"""Where a bulk statement's capture time goes: the kit's chunked capture beside the pieces it is made of.

    python -m bench.bulk --rows 100000 --repeat 3 --json bench/bulk.json   # from the repo root

One throwaway server (``bench.capture.DURABLE_SETTINGS``), one database with six copies of the same two
tables: ``acct_<variant>`` (id, aid, delta, note, mtime; ROWS rows, the target of the UPDATE) and
``load_<variant>`` (the same shape, empty; the target of INSERT ... SELECT and COPY). Each variant adds one
piece of what the kit's capture of a statement of many rows does (revision 0010: chunks of 1,024 rows in
``pgaudit_kit.event_chunk``):

  * ``baseline``   -- no trigger;
  * ``floor``      -- an AFTER statement trigger with transition tables that reads them once (count);
  * ``arrays``     -- the rows' text output aggregated into 2-D text arrays, one row per 1,024 rows, into an
                      unindexed table (UPDATE: old and new rows paired by row number, as the kit does);
  * ``arrays_ids`` -- the same, with an event id drawn per row (nextval), as the kit does;
  * ``kit``        -- pgaudit-kit, the table enrolled with statement capture: the above, plus the probe of the
                      transition table, the chunk table's key, the transaction's who/where row and the
                      capture function's pinned settings (the writers' commit seals nothing: a follower's
                      seal lease is held, as with ``seal --follow``);
  * ``kit_rows``   -- pgaudit-kit with row capture: one event row and its index entries per changed row, as
                      every statement was recorded before revision 0010.

Every operation is one timed transaction, commit included, after VACUUM and CHECKPOINT, in an order that
rotates between repetitions; ratios are medians over repetitions of the time against that repetition's
baseline. Afterwards the time ``pgaudit_kit.seal()`` takes to expand and seal the kit's chunks of one
repetition (the work that moved from the writer to the sealer) is measured too.

Not a test: nothing here asserts; it prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from bench.capture import DURABLE_SETTINGS, copy_payload, log, machine_info, rotation, source_revision
from pgaudit_kit.control.enrolment import CaptureOptions, enable_tables
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer

VARIANTS = ("baseline", "floor", "arrays", "arrays_ids", "kit", "kit_rows")
OPERATIONS = ("update", "insert_select", "copy")
COLUMNS = ("id bigint PRIMARY KEY, aid integer NOT NULL, delta integer NOT NULL, note text NOT NULL, "
           "mtime timestamptz NOT NULL")
VALUES = "ARRAY[{a}.id::text, {a}.aid::text, {a}.delta::text, {a}.note::text, {a}.mtime::text]"
# what the hand-written variants write: the kit's chunk without its key, names and statement
CHUNKS = """CREATE TABLE chunk_log (xid xid8, op "char", ids bigint[], images text[], old_images text[]);
DO $$ BEGIN
  IF (SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression') THEN
    ALTER TABLE chunk_log ALTER COLUMN images SET COMPRESSION lz4, ALTER COLUMN old_images SET COMPRESSION lz4;
  END IF;
END $$;
CREATE TABLE floor_log (n bigint);"""
NUMBERED = ("(SELECT {id} AS rn_id, pg_catalog.row_number() OVER () AS rn, n.* FROM {table} n) n")


def trigger_function(variant: str, operation: str) -> str:
    """Body of the hand-written capture of *variant* for an INSERT or UPDATE statement."""
    if variant == "floor":
        return ("INSERT INTO public.floor_log SELECT pg_catalog.count(*) FROM new_rows;" if operation == "INSERT" else
                "INSERT INTO public.floor_log SELECT pg_catalog.count(*) FROM new_rows, "
                "(SELECT pg_catalog.count(*) FROM old_rows) o;")
    ids = "pg_catalog.nextval('public.event_ids')" if variant == "arrays_ids" else "NULL::bigint"
    numbered = NUMBERED.format(id=ids, table="new_rows")
    head = "INSERT INTO public.chunk_log SELECT pg_catalog.pg_current_xact_id(), "
    new, old = VALUES.format(a="n"), VALUES.format(a="o")
    if operation == "INSERT":
        return f"{head}'I', pg_catalog.array_agg(n.rn_id), pg_catalog.array_agg({new}), NULL FROM {numbered} " \
               "GROUP BY (n.rn - 1) / 1024;"
    old_rows = "(SELECT pg_catalog.row_number() OVER () AS rn, o.* FROM old_rows o) o ON o.rn = n.rn"
    paired = numbered + " JOIN " + old_rows
    return f"{head}'U', pg_catalog.array_agg(n.rn_id), pg_catalog.array_agg({new}), pg_catalog.array_agg({old}) " \
           f"FROM {paired} GROUP BY (n.rn - 1) / 1024;"


def prepare(conn: psycopg.Connection[Any], dsn: str, rows: int) -> str:
    conn.execute(CHUNKS)
    conn.execute("CREATE SEQUENCE event_ids")
    for variant in VARIANTS:
        for prefix in ("acct", "load"):
            conn.execute(sql.SQL("CREATE TABLE {} (" + COLUMNS + ") WITH (fillfactor = 90)").format(
                sql.Identifier(f"{prefix}_{variant}")))
        conn.execute(sql.SQL("INSERT INTO {} SELECT g, g %% 1000, 0, 'row ' || g, now() "
                             "FROM generate_series(1, %s) g").format(sql.Identifier(f"acct_{variant}")), (rows,))
    for variant in ("floor", "arrays", "arrays_ids"):
        for operation in ("INSERT", "UPDATE"):
            function = sql.Identifier(f"capture_{variant}_{operation.lower()}")
            conn.execute(sql.SQL("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
                                 "SET search_path = '' AS $f$ BEGIN " + trigger_function(variant, operation)
                                 + " RETURN NULL; END $f$").format(function))
            tables = [f"load_{variant}"] if operation == "INSERT" else [f"acct_{variant}"]
            transition = ("REFERENCING NEW TABLE AS new_rows" if operation == "INSERT"
                          else "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows")
            for table in tables:
                conn.execute(sql.SQL("CREATE TRIGGER capture AFTER " + operation + " ON {} " + transition
                                     + " FOR EACH STATEMENT EXECUTE FUNCTION {}()").format(
                                         sql.Identifier(table), function))
    revision = installer.install(connector(dsn)).after
    enable_tables(conn, ["acct_kit", "load_kit"], CaptureOptions(capture_mode="statement"))
    enable_tables(conn, ["acct_kit_rows", "load_kit_rows"], CaptureOptions(capture_mode="row"))
    conn.execute("SELECT pgaudit_kit.renew_seal_lease(3600)")  # sealing is measured apart, below
    conn.execute("VACUUM ANALYZE")
    return revision


def run(conn: psycopg.Connection[Any], variant: str, operation: str, rows: int, rep: int) -> float:
    table = sql.Identifier(("acct_" if operation == "update" else "load_") + variant)
    first = (2 * rep + (operation == "copy")) * rows + 1  # fresh keys for every INSERT and COPY
    payload = copy_payload(first, rows) if operation == "copy" else b""
    conn.execute(sql.SQL("VACUUM {}").format(table))
    conn.execute("CHECKPOINT")
    start = time.perf_counter()
    with conn.transaction():
        if operation == "update":
            conn.execute(sql.SQL("UPDATE {} SET delta = delta + 1").format(table))
        elif operation == "insert_select":
            conn.execute(sql.SQL("INSERT INTO {} SELECT g, g %% 1000, g %% 7, 'inserted ' || g, now() "
                                 "FROM generate_series(%s::int8, %s::int8) g").format(table), (first, first + rows - 1))
        else:
            with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table)) as copy:
                copy.write(payload)
    return time.perf_counter() - start


def seal_time(conn: psycopg.Connection[Any]) -> tuple[float, int]:
    """Seconds and events of sealing everything recorded (the chunks expanded on the way)."""
    conn.execute("CHECKPOINT")
    start, sealed = time.perf_counter(), 0
    while (n := int(conn.execute("SELECT pgaudit_kit.seal(100000)").fetchone()[0])) > 0:  # type: ignore[index]
        sealed += n
    return time.perf_counter() - start, sealed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per statement (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--json", metavar="FILE", help="write the results here too")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    with TempServer(settings=DURABLE_SETTINGS) as server:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE bulk")
        dsn = server.dsn("bulk")
        machine = machine_info(server)
        with psycopg.connect(dsn, autocommit=True) as conn:
            log("preparing")
            revision = prepare(conn, dsn, args.rows)
            times: dict[tuple[str, str], list[float]] = {}
            seals: list[tuple[float, int]] = []
            for rep in range(args.repeat):
                for operation in OPERATIONS:
                    for variant in rotation(VARIANTS, rep):
                        times.setdefault((variant, operation), []).append(run(conn, variant, operation, args.rows, rep))
                seals.append(seal_time(conn))
                log(f"repetition {rep + 1} of {args.repeat} done")
    ratios = {op: {v: statistics.median(t / b for t, b in zip(times[(v, op)], times[("baseline", op)], strict=True))
                   for v in VARIANTS} for op in OPERATIONS}
    lines = [f"{'variant':12s}" + "".join(f"{op:>16s}" for op in OPERATIONS)]
    for variant in VARIANTS:
        lines.append(f"{variant:12s}" + "".join(f"{ratios[op][variant]:15.2f}x" for op in OPERATIONS))
    lines.append(f"{'baseline s':12s}" + "".join(f"{statistics.median(times[('baseline', op)]):15.3f}s"
                                                 for op in OPERATIONS))
    per_event = [s / n * 1e6 for s, n in seals if n]
    lines.append(f"sealing (kit and kit_rows events of a repetition): {statistics.median(s for s, _ in seals):.2f} s "
                 f"for {seals[0][1]:,} events, {statistics.median(per_event):.1f} us an event")
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"started": started.isoformat(), "machine": machine, "source": source_revision(),
                       "kit_revision": revision, "rows": args.rows, "repeat": args.repeat,
                       "seconds": {f"{v}/{op}": t for (v, op), t in times.items()},
                       "ratio_to_baseline": ratios, "seal_seconds_events": seals}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
