"""Enrol tables and schemas into capture, and take them out again.

Every name is resolved the way PostgreSQL resolves it (:mod:`pgaudit_kit.pg.relations`: quoting, case
folding, search_path) before anything changes; then all changes happen in one transaction through the
kit's SQL functions, so a bad name in a list leaves the database untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ..core.errors import UsageError
from ..pg import db
from ..pg.relations import require_table

TRUNCATE_POLICIES = ("capture", "refuse")
CAPTURE_MODES = ("row", "statement")


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
    """Enrol every table in *names* (or update its options). Returns (table, changed) pairs."""
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


def disable_table(conn: psycopg.Connection[Any], name: str, reason: str | None) -> str:
    db.require_writable(conn)
    db.require_installed(conn)
    reason = _require_reason(reason)
    table = require_table(conn, name)
    with db.translated_errors(), conn.transaction():
        conn.execute("SELECT pgaudit_kit.disable_table(%s::oid::regclass, %s)", (table.oid, reason))
    return table.name


def disable_schema(conn: psycopg.Connection[Any], schema: str, reason: str | None) -> None:
    db.require_writable(conn)
    db.require_installed(conn)
    reason = _require_reason(reason)
    with db.translated_errors(), conn.transaction():
        conn.execute("SELECT pgaudit_kit.disable_schema(%s, %s)", (schema, reason))
