"""How the kit's schema is built and changed, for the Alembic environment in ``migrations/``.

A fresh install applies every source of ``sql/`` in the declared order (sql/ORDER) and is stamped with
the newest revision. An upgrade runs each pending revision's frozen delta (``run_delta``: tables, indexes,
what the sources no longer define), then applies the idempotent sources again (functions, views, triggers,
policies, event triggers, capture regeneration), so the current definition of every function lives in one
file. Upgrades are forward-only.

Online, SQL goes straight to psycopg (no SQLAlchemy parameter parsing, which would mangle ``format('%I')``
or ``'a:b'``); offline (``install --sql``) it is written to the output as-is.
"""

from __future__ import annotations

from alembic import context
from psycopg import sql

from . import shipped
from .resources import APPLY, read_sql, sources
from .revisions import head_revision

# Regenerates every capture function: needed after an upgrade only when a function changed.
REGENERATE_CAPTURE = "capture/regenerate.sql"

# The DDL guards refuse changes to the kit's objects outside a maintenance window. Each step of an upgrade
# runs in one: opened when the guards exist (recorded unless this transaction is the kit's own install);
# online and in `install --sql` output alike.
OPEN_MAINTENANCE = """DO $maintenance$
BEGIN
  IF pg_catalog.to_regprocedure('pgaudit_kit.begin_maintenance(text)') IS NOT NULL THEN
    PERFORM pgaudit_kit.begin_maintenance({});
  END IF;
END
$maintenance$;
"""

# A DDL statement the kit records (its event trigger runs during an upgrade too) writes this transaction's
# who/where row, and that queues the deferred sealing trigger; PostgreSQL refuses ALTER TABLE and CREATE INDEX
# on a table with pending trigger events. So, before each step, the pending sealing event fires now rather
# than at commit.
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

# What `install --sql` runs first: the refusal `install` makes before it connects to change anything
# (pgaudit_kit.pg.db.require_encoded). A SQL_ASCII database's text is unchecked bytes, which the kit can neither
# record as characters nor hash the same way on every client.
REFUSE_SQL_ASCII = """DO $encoding$
BEGIN
  IF pg_catalog.current_setting('server_encoding') = 'SQL_ASCII' THEN
    RAISE EXCEPTION 'pgaudit-kit: this database has encoding SQL_ASCII (unchecked bytes): nothing was installed'
      USING ERRCODE = 'feature_not_supported',
            HINT = 'Create the database with ENCODING ''UTF8'' (or another real encoding) and move the data there.';
  END IF;
END
$encoding$;
"""

# Install modes the installer hands to the Alembic environment (config.attributes["pgaudit_kit_mode"]).
FRESH_INSTALL = "install"
UPGRADE = "upgrade"


def run_delta(revision: str, text: str) -> None:
    """Run one revision's frozen delta, in a maintenance window."""
    _open_maintenance(f"pgaudit-kit schema change: revision {revision}")
    _run("pending sealing", FIRE_PENDING_SEALING)
    _run(f"revision {revision}", text)


def apply_sources(mode: str, from_revision: str | None = None) -> None:
    """After Alembic has stamped (fresh install) or run the pending deltas (upgrade): every source of sql/ on
    a fresh install; after an upgrade, the idempotent ones, except functions already as the newest revision
    ships them (online: as the database has them now; offline: as *from_revision* shipped them). Capture is
    regenerated when any function changed: the generator may be among them."""
    if mode not in (FRESH_INSTALL, UPGRADE):
        raise ValueError(f"unknown install mode {mode!r}")
    if mode == UPGRADE:
        target = shipped.load(head_revision())
        present = _present_functions(from_revision)
    _open_maintenance("pgaudit-kit schema change: current sources")
    functions_changed = False
    for source in sources():
        if mode == UPGRADE:
            if source.kind != APPLY:
                continue
            function = shipped.function_of_source(source.path)
            if function is not None:
                if present.get(function) == target.get(function):
                    continue
                functions_changed = True
            elif source.path == REGENERATE_CAPTURE and not functions_changed:
                continue
        _run("pending sealing", FIRE_PENDING_SEALING)
        _run(source.path, read_sql(source.path))


def _present_functions(from_revision: str | None) -> dict[str, shipped.ShippedFunction]:
    if context.is_offline_mode():
        if from_revision is None:
            raise ValueError("an offline upgrade needs the revision it starts from")
        return dict(shipped.load(from_revision))
    conn = context.get_bind().connection.driver_connection
    return {name: record for name, (record, _) in shipped.functions_in(conn).items()}  # type: ignore[arg-type]


def _open_maintenance(reason: str) -> None:
    _run("maintenance window", sql.SQL(OPEN_MAINTENANCE).format(sql.Literal(reason)).as_string(None))


def _run(label: str, text: str) -> None:
    if context.is_offline_mode():
        context.get_context().impl.static_output(f"-- {label}\n{text.rstrip()}\n")
    else:
        context.get_bind().connection.driver_connection.execute(text)  # type: ignore[union-attr]
