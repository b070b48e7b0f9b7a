"""Helpers the Alembic scripts in ``migrations/`` call: they apply shipped SQL files verbatim.

Online, each file goes straight to psycopg (no SQLAlchemy parameter parsing, which would mangle
``format('%I')`` or ``'a:b'``); offline (``install --sql``) it is written to the output as-is.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import context, op
from psycopg import sql

from .resources import FUNCTION_DEFINITION, read_sql

# From revision 0003 on, the DDL guards refuse changes to the kit's objects outside a maintenance window.
# Each revision's SQL runs in one: opened when the guards exist and it is not open yet, and recorded
# unless this transaction is the kit's own install; online and in `install --sql` output alike.
OPEN_MAINTENANCE = """DO $maintenance$
BEGIN
  IF pg_catalog.to_regprocedure('pgaudit_kit.begin_maintenance(text)') IS NOT NULL THEN
    PERFORM pgaudit_kit.begin_maintenance({});
  END IF;
END
$maintenance$;
"""

# A DDL statement the kit records (its event trigger runs during an upgrade too) writes this transaction's
# who/where row, and that queues the deferred sealing trigger; PostgreSQL refuses ALTER TABLE on a table
# with pending trigger events (revision 0003 alters pgaudit_kit.transaction). So, before each file, the
# pending sealing event fires now rather than at commit.
FIRE_PENDING_SEALING = """DO $fire$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgname = 'pgaudit_kit_seal_at_commit'
                AND t.tgrelid = pg_catalog.to_regclass('pgaudit_kit.transaction')) THEN
    SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit IMMEDIATE;
    SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit DEFERRED;
  END IF;
END
$fire$;
"""


def run_sql_files(paths: Iterable[str]) -> None:
    paths = list(paths)
    _open_maintenance(paths)
    for path in paths:
        _run("pending sealing", FIRE_PENDING_SEALING)
        _run(path, read_sql(path))


def _open_maintenance(paths: list[str]) -> None:
    reason = "pgaudit-kit schema change: " + ", ".join(sorted({p.split("/")[0] for p in paths}))
    _run("maintenance window", sql.SQL(OPEN_MAINTENANCE).format(sql.Literal(reason)).as_string(None))


def _run(label: str, text: str) -> None:
    if context.is_offline_mode():
        context.get_context().impl.static_output(f"-- {label}\n{text.rstrip()}\n")
    else:
        op.get_bind().connection.driver_connection.execute(text)  # type: ignore[union-attr]


def restore_released_functions(functions: Iterable[tuple[str, str]]) -> None:
    """Put back, by CREATE OR REPLACE, the definitions of functions a later revision replaced: each given
    as (released SQL file, qualified name). The definition is read from the released file itself, so a
    downgrade restores exactly what that revision shipped. A function that still exists keeps its owner,
    privileges and comment; one the later revision dropped is created anew, owned by whoever runs the
    migration, so the downgrade's own SQL must give it back to the kit's owner (as sql/v6/downgrade.sql does)."""
    functions = list(functions)
    _open_maintenance([path for path, _ in functions])
    for path, name in functions:
        definitions = {m.group(1): m.group(0) for m in FUNCTION_DEFINITION.finditer(read_sql(path))}
        if name not in definitions:
            raise LookupError(f"{path} does not define {name}")
        text = definitions[name] + ";"
        _run(f"{path}: {name}", text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
