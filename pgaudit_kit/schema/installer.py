"""Install, upgrade, inspect and remove the kit's schema in a database.

A database without the kit gets the current ``sql/`` sources and is stamped with the newest Alembic
revision; one with an older revision runs the pending revisions' deltas and then the idempotent sources
(pgaudit_kit.schema.migration_support). Upgrades are forward-only: there is no downgrade, and `uninstall` removes
the kit. Installs are transactional (all of it or nothing) and serialised per database by an
advisory lock, so two installers started at once end with one install and one no-op.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext

from ..control import lockdown
from ..core.errors import DriftFound, HistoryExists
from ..core.names import KIT_ROLES
from ..log import sealing
from ..log.sealing import backlog, follower_lease
from ..pg import db
from ..pg.catalog import auto_enrol_schemas, capture_problems, enrolled_tables
from .drift import Drift, upgrade_drift
from .migration_support import FRESH_INSTALL, UPGRADE
from .revisions import alembic_config, head_revision

# pg_advisory_xact_lock key: hashtext('pgaudit_kit.install') is stable across versions, but spelling the
# constant out keeps it independent of hash function changes.
INSTALL_LOCK_KEY = 0x70676B69  # "pgki"


def current_revision(conn: psycopg.Connection[Any]) -> str | None:
    if not db.is_installed(conn):
        return None
    row = conn.execute("SELECT version_num FROM pgaudit_kit.alembic_version").fetchone()
    return str(row[0]) if row else None


def _engine(connect: db.Connector) -> sa.Engine:
    # The creator keeps libpq semantics for the DSN (empty = PG* environment), as psql does.
    return sa.create_engine("postgresql+psycopg://", creator=connect, poolclass=sa.pool.NullPool)


@dataclass
class InstallResult:
    before: str | None
    after: str
    rebound: int = 0
    overwritten: list[Drift] = field(default_factory=list)
    origin_changed_from: str | None = None  # a restore into another database or cluster, recorded

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.rebound > 0 or self.origin_changed_from is not None


def install(connect: db.Connector, overwrite_drift: bool = False) -> InstallResult:
    """Create or upgrade the kit schema to the newest revision. Idempotent; all-or-nothing.

    An upgrade replaces kit functions and regenerates capture functions, which would erase the evidence
    of any that were tampered with. So it is refused while the kit's functions are not what the current
    revision installed (DriftFound), unless *overwrite_drift*: then what was found is recorded in the
    audit log (control event ``overwrite_drift``, with each function's source) in the same transaction.
    """
    with connect() as probe:
        db.require_writable(probe)
        db.require_superuser(probe, "install")
        db.require_encoded(probe)
    engine = _engine(connect)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({INSTALL_LOCK_KEY})")
            context = MigrationContext.configure(conn, opts={"version_table_schema": db.KIT_SCHEMA})
            before = context.get_current_revision()
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            drift: list[Drift] = []
            if before != head_revision():
                if before is not None:
                    drift = upgrade_drift(raw, before)
                    if drift and not overwrite_drift:
                        raise DriftFound(_drift_refusal(before, drift))
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                if before is None:
                    cfg.attributes["pgaudit_kit_mode"] = FRESH_INSTALL
                    command.stamp(cfg, "head")
                else:
                    cfg.attributes["pgaudit_kit_mode"] = UPGRADE
                    cfg.attributes["pgaudit_kit_from_revision"] = before
                    command.upgrade(cfg, "head")
            if drift:
                # After the upgrade: its maintenance window has written this transaction's who/where row,
                # so the record goes in even while audited writes are locked down.
                raw.execute(
                    "SELECT pgaudit_kit.record_control_event('overwrite_drift', NULL, NULL, NULL, %s::jsonb)",
                    (json.dumps({"from_revision": before, "to_revision": head_revision(),
                                 "drift": [d.as_dict() for d in drift]}),))
            # After a dump/restore, enrolled tables have new OIDs: bind capture to them again.
            rebound = conn.exec_driver_sql("SELECT pgaudit_kit.rebind_enrolments()").scalar()
            origin_from = _record_origin_change(raw)
            return InstallResult(before=before, after=head_revision(), rebound=int(rebound or 0), overwritten=drift,
                                 origin_changed_from=origin_from)
    except sa.exc.DBAPIError as exc:
        if isinstance(exc.orig, psycopg.Error):
            raise db.translate(exc.orig) from exc
        raise
    finally:
        engine.dispose()


def _record_origin_change(conn: psycopg.Connection[Any]) -> str | None:
    """After a restore into another database or cluster, the checkpoint origin (cluster, database, install id)
    differs from the one the newest checkpoint names. Record the change (control event ``origin_change``,
    sealed with the rest of the log) so that verify checks the earlier origin's checkpoints against this log's
    roots instead of reporting them as another database's forever. Install needs a superuser: that is the
    authorisation. Returns the earlier origin when it recorded one."""
    current = sealing.origin(conn)
    row = conn.execute("SELECT origin FROM pgaudit_kit.checkpoint ORDER BY id DESC LIMIT 1").fetchone()
    if row is None or row[0] == current:
        return None
    recorded = conn.execute(
        "SELECT EXISTS (SELECT FROM pgaudit_kit.event WHERE op = 'K' AND row_data->>'action' = 'origin_change' "
        "AND row_data->>'from' = %s AND row_data->>'to' = %s)", (row[0], current)).fetchone()
    if recorded and recorded[0]:
        return None
    conn.execute("SELECT pgaudit_kit.record_control_event('origin_change', NULL, NULL, NULL, %s::jsonb)",
                 (json.dumps({"from": row[0], "to": current}),))
    return str(row[0])


def _drift_refusal(revision: str, drift: list[Drift]) -> str:
    shown = "; ".join(d.message for d in drift[:3]) + (f"; and {len(drift) - 3} more" if len(drift) > 3 else "")
    return (f"refusing to upgrade from revision {revision}: the upgrade would overwrite {len(drift)} kit "
            f"function(s) that are not what revision {revision} installed, and the evidence with them ({shown}). "
            "Investigate (pgaudit-kit verify), then run pgaudit-kit install --overwrite-drift to record them "
            "in the audit log and upgrade")


def install_sql(from_revision: str | None) -> str:
    """The SQL `install` would run, from *from_revision* (None: a database without the kit) to head."""
    if from_revision == head_revision():
        return "-- pgaudit-kit is already at the newest revision; nothing to run.\n"
    cfg = alembic_config()
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    if from_revision is None:
        cfg.attributes["pgaudit_kit_mode"] = FRESH_INSTALL
        command.stamp(cfg, "head", sql=True)
    else:
        cfg.attributes["pgaudit_kit_mode"] = UPGRADE
        cfg.attributes["pgaudit_kit_from_revision"] = from_revision
        command.upgrade(cfg, f"{from_revision}:head", sql=True)
    return buffer.getvalue()


@dataclass
class UninstallResult:
    dropped_roles: list[str] = field(default_factory=list)
    kept_roles: list[str] = field(default_factory=list)
    kept_for: list[str] = field(default_factory=list)  # the databases whose objects or grants still use them
    discarded_events: int = 0


def uninstall(conn: psycopg.Connection[Any], discard_history: bool) -> UninstallResult:
    """Remove the kit's schema, triggers and event triggers, and its roles when nothing else uses them.

    Raises HistoryExists when events are recorded and *discard_history* is false.
    """
    result = UninstallResult()
    with db.translated_errors():
        db.require_writable(conn)
        db.require_installed(conn)
        db.require_superuser(conn, "uninstall")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (INSTALL_LOCK_KEY,))
            if db.has_kit_relation(conn, "event"):
                row = conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
                result.discarded_events = int(row[0]) if row else 0
            if db.has_kit_relation(conn, "event_chunk"):  # events still in chunks (revision 0010)
                row = conn.execute("SELECT COALESCE(sum(n_events), 0) FROM pgaudit_kit.event_chunk").fetchone()
                result.discarded_events += int(row[0]) if row else 0
            if result.discarded_events and not discard_history:
                raise HistoryExists(
                    f"refusing to uninstall: {result.discarded_events} recorded audit events would be destroyed; "
                    "archive them first (pgaudit-kit archive), or pass --discard-history"
                )
            _refuse_within_retention(conn)
            # Event triggers first: they would otherwise fire on (and refuse) their own schema's removal.
            kit_event_triggers = conn.execute(
                "SELECT evtname::text FROM pg_event_trigger WHERE evtname::text LIKE 'pgaudit\\_kit\\_%'").fetchall()
            for (name,) in kit_event_triggers:
                conn.execute(psycopg.sql.SQL("DROP EVENT TRIGGER {}").format(psycopg.sql.Identifier(name)))
            # CASCADE takes the generated capture functions and, through them, their triggers on user tables.
            conn.execute("DROP SCHEMA pgaudit_kit CASCADE")
            conn.execute("DROP SCHEMA IF EXISTS pgaudit_kit_guard CASCADE")
            for role in KIT_ROLES:
                # what the kit granted its roles in this database goes too: the owner's SELECT on the tables it
                # audited and USAGE on their schemas (it has BYPASSRLS: nothing of it may stay behind)
                if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None:
                    conn.execute(psycopg.sql.SQL("DROP OWNED BY {}").format(psycopg.sql.Identifier(role)))
            for role in KIT_ROLES:
                try:
                    with conn.transaction():
                        conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(role)))
                    result.dropped_roles.append(role)
                except psycopg.errors.DependentObjectsStillExist:
                    result.kept_roles.append(role)
            result.kept_for = sorted({str(r[0]) for r in conn.execute(
                "SELECT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
                "JOIN pg_roles r ON r.oid = s.refobjid WHERE r.rolname = ANY(%s)", (result.kept_roles,))})
    return result


def _refuse_within_retention(conn: psycopg.Connection[Any]) -> None:
    """Uninstalling destroys history: not history younger than the minimum retention period (revision 0012),
    which nobody may remove, --discard-history or not."""
    if not db.has_kit_relation(conn, "retention"):
        return
    row = conn.execute(
        "SELECT p.min_age::text, (SELECT count(*) FROM pgaudit_kit.event e WHERE e.statement_ts > now() - p.min_age) "
        "+ (SELECT COALESCE(sum(c.n_events), 0) FROM pgaudit_kit.event_chunk c) "
        "FROM pgaudit_kit.retention p ORDER BY p.min_age DESC LIMIT 1").fetchone()
    if row is not None and int(row[1]):
        raise HistoryExists(f"refusing to uninstall: {int(row[1])} recorded audit events are younger than the minimum "
                            f"retention period ({row[0]}), which nobody may remove; --discard-history does not "
                            "override it")


@dataclass
class Status:
    installed_revision: str | None
    newest_revision: str
    server_version: str
    database: str
    enrolled_tables: list[dict[str, Any]]
    auto_enrol_schemas: list[dict[str, Any]]
    problems: list[str]
    sealed_log: dict[str, Any] | None = None
    lockdown: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "installed_revision": self.installed_revision,
            "newest_revision": self.newest_revision,
            "server_version": self.server_version,
            "database": self.database,
            "enrolled_tables": self.enrolled_tables,
            "auto_enrol_schemas": self.auto_enrol_schemas,
            "sealed_log": self.sealed_log,
            "lockdown": self.lockdown,
            "problems": self.problems,
        }


def _column_names(value: Any) -> list[str]:
    """A stored column list as names: the kit writes one-dimensional arrays of names; a superuser's edit may
    leave NULLs (shown as "(null)") or more dimensions (flattened), which status shows rather than fail on."""
    if not isinstance(value, list):
        return [] if value is None else [str(value)]
    return [name for item in value for name in (_column_names(item) if isinstance(item, list)
                                                 else ["(null)" if item is None else str(item)])]


def _listable(table: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {key: _column_names(table[key]) for key in ("excluded_columns", "redacted_columns")
                             if key in table}
    if table.get("pk_columns") is not None:
        shown["pk_columns"] = _column_names(table["pk_columns"])
    return {**table, **shown}


def status(conn: psycopg.Connection[Any]) -> Status:
    """What is installed, what is enrolled, and anything wrong that can be seen cheaply."""
    with db.translated_errors():
        installed = current_revision(conn)
        problems: list[str] = []
        tables: list[dict[str, Any]] = []
        schemas: list[dict[str, Any]] = []
        sealed_log: dict[str, Any] | None = None
        locked: dict[str, Any] | None = None
        if installed is None:
            problems.append("pgaudit-kit is not installed in this database (run: pgaudit-kit install)")
        else:
            if installed != head_revision():
                problems.append(
                    f"schema is at revision {installed}, newest is {head_revision()} (run: pgaudit-kit install)"
                )
            tables = [_listable(t) for t in enrolled_tables(conn)]
            schemas = auto_enrol_schemas(conn)
            problems += [p.message for p in capture_problems(conn)]
            if db.has_kit_relation(conn, "block"):
                state = backlog(conn)
                follower = follower_lease(conn)
                sealed_log = {"tree_size": state.tree_size, "unsealed_events": state.count,
                              "oldest_unsealed_age_seconds": None if state.age_seconds is None
                              else round(state.age_seconds, 3),
                              "last_sealed_at": state.last_sealed_at.isoformat() if state.last_sealed_at else None,
                              "follower_lease_until": follower.isoformat() if follower else None}
            if db.has_kit_relation(conn, "lockdown_event"):
                current = lockdown.state(conn)
                locked = current.as_dict()
                if current.locked:
                    problems.append(f"audited writes are locked down since {current.acted_at} by {current.acted_by}: "
                                    f"{current.reason} (an admin lifts it: pgaudit-kit unlock --reason TEXT)")
        return Status(
            installed_revision=installed,
            newest_revision=head_revision(),
            server_version=db.server_version(conn),
            database=db.describe_target(conn),
            enrolled_tables=tables,
            auto_enrol_schemas=schemas,
            problems=problems,
            sealed_log=sealed_log,
            lockdown=locked,
        )
