"""Enrol tables and schemas into capture, and take them out again.

Every name is resolved the way PostgreSQL resolves it (:mod:`pgaudit_kit.pg.relations`: quoting, case
folding, search_path) before anything changes; then all changes happen in one transaction through the
kit's SQL functions, so a bad name in a list leaves the database untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from ..core.errors import EnvironmentProblem, UsageError
from ..core.names import CAPTURE_MODES, TRUNCATE_POLICIES
from ..pg import db
from ..pg.relations import Relation, require_table


@dataclass(frozen=True)
class CaptureOptions:
    excluded_columns: tuple[str, ...] = ()
    redacted_columns: tuple[str, ...] = ()
    truncate: str = "capture"
    capture_statement: bool = False
    capture_mode: str | None = None  # row or statement; None keeps an enrolled table's mode

    def __post_init__(self) -> None:
        if self.truncate not in TRUNCATE_POLICIES:
            raise UsageError(f"--truncate must be one of {', '.join(TRUNCATE_POLICIES)}, not {self.truncate!r}")
        if self.capture_mode not in (None, *CAPTURE_MODES):
            raise UsageError(f"--capture-mode must be one of {', '.join(CAPTURE_MODES)}, not {self.capture_mode!r}")


def enable_tables(
    conn: psycopg.Connection[Any], names: Sequence[str], options: CaptureOptions
) -> list[tuple[str, bool]]:
    """Enrol every table in *names* with exactly *options* (a new enrolment, or options set whole: taking a
    redaction or exclusion away this way is refused by the database). Returns (table, changed) pairs."""
    db.require_writable(conn)
    db.require_installed(conn)
    tables = [require_table(conn, name) for name in names]
    results: list[tuple[str, bool]] = []
    with db.translated_errors(), conn.transaction():
        for table in tables:
            row = conn.execute(
                "SELECT pgaudit_kit.enable_table(%s::oid::regclass, %s::text[], %s::text[], %s, %s, %s)",
                (table.oid, list(options.excluded_columns), list(options.redacted_columns), options.truncate,
                 options.capture_statement, options.capture_mode),
            ).fetchone()
            if options.capture_mode is not None:
                _require_mode(conn, table.name, table.oid, options.capture_mode)
            results.append((table.name, bool(row and row[0])))
    return results


@dataclass(frozen=True)
class OptionChanges:
    """What `enable` asks for. Column items are ``COL`` (every table named) or ``TABLE.COL`` (that table only,
    named as on the command line or qualified). Whatever is not given keeps the enrolled table's setting (a
    new enrolment gets the defaults): options never change by omission."""

    exclude: tuple[str, ...] = ()  # columns never recorded from now on
    redact: tuple[str, ...] = ()  # columns recorded as a keyed digest from now on
    include: tuple[str, ...] = ()  # excluded columns recorded again (in clear unless redacted): needs a reason
    unredact: tuple[str, ...] = ()  # redacted columns recorded in clear again: needs a reason
    truncate: str | None = None
    capture_statement: bool | None = None
    capture_mode: str | None = None
    reason: str | None = None  # recorded with the change; required for a column that would be recorded in clear

    def __post_init__(self) -> None:
        CaptureOptions(truncate=self.truncate or "capture", capture_mode=self.capture_mode)  # same validation


@dataclass(frozen=True)
class Enrolled:
    """One table's enrolment before (None: it was not enrolled) and after an `enable`."""

    name: str
    before: dict[str, Any] | None
    after: dict[str, Any]

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Option: (before, after), for every option that changed (all of them for a new enrolment)."""
        before = self.before or {}
        return {k: (before.get(k), v) for k, v in self.after.items() if before.get(k) != v}


OPTIONS_SQL = """SELECT excluded_columns, redacted_columns, truncate_policy, capture_statement, capture_mode
                   FROM pgaudit_kit.enrolled_table WHERE relid = %s"""
OPTION_NAMES = ("excluded_columns", "redacted_columns", "truncate_policy", "capture_statement", "capture_mode")


def _options_of(conn: psycopg.Connection[Any], oid: int) -> dict[str, Any] | None:
    row = conn.execute(OPTIONS_SQL, (oid,)).fetchone()
    return None if row is None else dict(zip(OPTION_NAMES, [*map(list, row[:2]), *row[2:]], strict=True))


def _columns_for(conn: psycopg.Connection[Any], items: Sequence[str], tables: Sequence[Relation],
                 option: str) -> dict[int, list[str]]:
    """Column items per table oid: ``COL`` goes to every table, ``TABLE.COL`` to that one (which must be named)."""
    found: dict[int, list[str]] = {t.oid: [] for t in tables}
    for item in items:
        if "." in item and not (len(tables) == 1 and _has_column(conn, tables[0].oid, item)):
            table_name, column = item.rsplit(".", 1)
            table = require_table(conn, table_name)
            if table.oid not in found:
                raise UsageError(f"{option} {item}: {table.name} is not one of the tables named")
            found[table.oid].append(column)
        else:
            for oid in found:
                found[oid].append(item)
    return found


def _has_column(conn: psycopg.Connection[Any], oid: int, column: str) -> bool:
    return conn.execute("SELECT FROM pg_attribute WHERE attrelid = %s AND attname = %s AND attnum > 0 "
                        "AND NOT attisdropped", (oid, column)).fetchone() is not None


def enable(conn: psycopg.Connection[Any], names: Sequence[str], changes: OptionChanges,
           lock_timeout: float = 5.0) -> list[Enrolled]:
    """Enrol the tables in *names*, or change their options as *changes* asks, in one transaction; each
    table's options before and after. Taking a redaction or exclusion away without a column going to the
    other needs *changes.reason* (the database refuses it otherwise). Waits at most *lock_timeout* seconds for
    each table's lock, then raises LockTimeout naming who holds it, with nothing changed."""
    db.require_writable(conn)
    db.require_installed(conn)
    tables = [require_table(conn, name) for name in names]
    per_table = {option: _columns_for(conn, items, tables, flag) for option, items, flag in (
        ("exclude", changes.exclude, "--exclude-columns"), ("redact", changes.redact, "--redact-columns"),
        ("include", changes.include, "--include-columns"), ("unredact", changes.unredact, "--unredact-columns"))}
    results: list[Enrolled] = []
    with db.translated_errors(), locks_bounded(conn, tables, lock_timeout):
        for table in tables:
            before = _options_of(conn, table.oid)
            excluded, redacted = _merged(table.name, before, {k: v[table.oid] for k, v in per_table.items()})
            row = conn.execute(
                "SELECT pgaudit_kit.enable_table(%s::oid::regclass, %s::text[], %s::text[], %s, %s, %s, %s)",
                (table.oid, excluded, redacted,
                 changes.truncate or (before["truncate_policy"] if before else "capture"),
                 changes.capture_statement if changes.capture_statement is not None
                 else bool(before and before["capture_statement"]), changes.capture_mode, changes.reason)).fetchone()
            assert row is not None
            if changes.capture_mode is not None:
                _require_mode(conn, table.name, table.oid, changes.capture_mode)
            after = _options_of(conn, table.oid)
            assert after is not None
            results.append(Enrolled(table.name, before, after))
    return results


def _merged(name: str, before: dict[str, Any] | None, asked: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """The excluded and redacted columns after the change: a column named for one list leaves the other."""
    excluded = list((before or {}).get("excluded_columns", []))
    redacted = list((before or {}).get("redacted_columns", []))
    for option, current, flag in (("include", excluded, "--include-columns"),
                                  ("unredact", redacted, "--unredact-columns")):
        missing = [c for c in asked[option] if c not in current]
        if missing:
            what = "excluded" if option == "include" else "redacted"
            raise UsageError(f"{flag}: {', '.join(missing)} of {name} is not {what}")
    excluded = [c for c in excluded if c not in asked["include"] and c not in asked["redact"]]
    redacted = [c for c in redacted if c not in asked["unredact"] and c not in asked["exclude"]]
    excluded += [c for c in asked["exclude"] if c not in excluded]
    redacted += [c for c in asked["redact"] if c not in redacted]
    return excluded, redacted


class LockTimeout(EnvironmentProblem):
    """A table's lock was not granted within the lock timeout: nothing changed."""


@contextmanager
def locks_bounded(conn: psycopg.Connection[Any], tables: Sequence[Relation], seconds: float) -> Iterator[None]:
    """A transaction whose locks are waited for *seconds* at most (0: no limit). A lock timeout (the transaction
    rolled back) becomes LockTimeout naming the sessions that held a lock on those tables (or their partitions)
    when it struck, so the DBA knows whom to wait for."""
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(seconds * 1000)}ms",))
            yield
    except psycopg.errors.LockNotAvailable:
        holders = conn.execute(
            """SELECT DISTINCT l.pid, l.relation::regclass::text, l.mode, a.usename, a.application_name, a.state,
                      to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                 FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.granted AND l.pid <> pg_backend_pid() AND l.locktype = 'relation'
                  AND l.relation IN (SELECT r FROM unnest(%(oids)s::oid[]) r
                                     UNION SELECT p.relid FROM unnest(%(oids)s::oid[]) r, pg_partition_tree(r) p)
                ORDER BY 1, 2""", {"oids": [t.oid for t in tables]}).fetchall()
        conn.rollback()
        who = "; ".join(f"backend {pid} ({user or '?'}, {app or 'no application_name'}, {state or 'state hidden'}"
                        f"{f', transaction since {since}' if since else ''}) holds {mode} on {rel}"
                        for pid, rel, mode, user, app, state, since in holders) or "the lock was released meanwhile"
        raise LockTimeout(f"waited {seconds:g} s for a table's lock and gave up, nothing changed: {who} "
                          "(retry at a quiet moment, or raise --lock-timeout)") from None


def _require_mode(conn: psycopg.Connection[Any], name: str, oid: int, requested: str) -> None:
    """Partitioned tables and inheritance trees are captured by row triggers whatever was asked: say so
    (raising here rolls the whole enrolment back)."""
    row = conn.execute("SELECT capture_mode FROM pgaudit_kit.enrolled_table WHERE relid = %s", (oid,)).fetchone()
    if row and row[0] != requested:
        raise UsageError(f"{name} is partitioned or in an inheritance tree: its rows are captured by row triggers "
                         f"(--capture-mode {requested} is not available for it)")


def enable_schema(conn: psycopg.Connection[Any], schema: str, existing: bool, options: CaptureOptions) -> int:
    """Set *schema* to auto-enrol new tables; with *existing*, enrol its current tables too."""
    db.require_writable(conn)
    db.require_installed(conn)
    with db.translated_errors(), conn.transaction():
        row = conn.execute(
            "SELECT pgaudit_kit.enable_schema(%s, %s, %s::text[], %s::text[], %s, %s)",
            (schema, existing, list(options.excluded_columns), list(options.redacted_columns), options.truncate,
             options.capture_statement),
        ).fetchone()
    return int(row[0]) if row else 0


def _require_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise UsageError("--reason is required: leaving the audit is recorded with who and why")
    return reason


def disable_table(conn: psycopg.Connection[Any], name: str, reason: str | None, lock_timeout: float = 5.0) -> str:
    db.require_writable(conn)
    db.require_installed(conn)
    reason = _require_reason(reason)
    table = require_table(conn, name)
    with db.translated_errors(), locks_bounded(conn, [table], lock_timeout):
        conn.execute("SELECT pgaudit_kit.disable_table(%s::oid::regclass, %s)", (table.oid, reason))
    return table.name


def disable_schema(conn: psycopg.Connection[Any], schema: str, reason: str | None) -> None:
    db.require_writable(conn)
    db.require_installed(conn)
    reason = _require_reason(reason)
    with db.translated_errors(), conn.transaction():
        conn.execute("SELECT pgaudit_kit.disable_schema(%s, %s)", (schema, reason))
