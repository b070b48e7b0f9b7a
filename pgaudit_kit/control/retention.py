"""The minimum retention period of audit history: read, and raised (never lowered: the database refuses it).

It lives in pgaudit_kit.retention (append-only; the longest period ever set is in force) and is enforced by
the database itself: pgaudit_kit.retire, and the guard that lets retired rows leave, both refuse history
sealed more recently than this, whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..core.errors import UsageError
from ..pg import db


@dataclass(frozen=True)
class Retention:
    min_age: str | None  # the period in force, as PostgreSQL prints it; None: not set, nothing can be retired
    set_by: str | None = None
    set_at: str | None = None
    retired_through: int = 0  # the tree size retired history ends at

    def as_dict(self) -> dict[str, Any]:
        return {"min_age": self.min_age, "set_by": self.set_by, "set_at": self.set_at,
                "retired_through": self.retired_through}


def read(conn: psycopg.Connection[Any]) -> Retention:
    with db.translated_errors():
        db.require_installed(conn)
        if not db.has_kit_relation(conn, "retention"):
            raise UsageError("this installation predates retention (revision 0012): run pgaudit-kit install")
        row = conn.execute(
            """SELECT r.min_age::text, r.set_by,
                      to_char(r.set_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                      (SELECT COALESCE(max(x.tree_size), 0) FROM pgaudit_kit.retirement x)
                 FROM (SELECT) one
                 LEFT JOIN LATERAL (SELECT * FROM pgaudit_kit.retention ORDER BY min_age DESC, id LIMIT 1) r
                   ON true""").fetchone()
        assert row is not None
        return Retention(row[0], row[1], row[2], int(row[3]))


def raise_to(conn: psycopg.Connection[Any], period: str) -> bool:
    """Set the minimum retention period to *period* (a PostgreSQL interval: '400 days', '7 years').
    Returns False when that period was already in force. Lowering it is refused by the database."""
    if not period.strip():
        raise UsageError("--set needs a period, e.g. '400 days' or '7 years'")
    with db.translated_errors():
        db.require_writable(conn)
        with conn.transaction():
            read(conn)  # installed, and at a revision that has retention
            try:
                with conn.transaction():
                    row = conn.execute("SELECT pgaudit_kit.set_retention(%s::interval)", (period,)).fetchone()
            except psycopg.errors.InvalidDatetimeFormat:
                raise UsageError(f"not a period: {period!r} (examples: '400 days', '7 years', '18 months')") from None
    return bool(row and row[0])
