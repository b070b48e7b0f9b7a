"""Lockdown: refuse every audited write until an admin unlocks, recorded with who and why.

The state lives in the append-only table pgaudit_kit.lockdown_event; the check runs inside the kit's
SQL (pgaudit_kit.check_lockdown, before the first audited write of a transaction), so it holds for every
client, not only this tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..core.errors import UsageError
from ..pg import db


@dataclass(frozen=True)
class LockdownState:
    locked: bool
    reason: str | None = None
    acted_by: str | None = None
    acted_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"locked": self.locked, "reason": self.reason, "acted_by": self.acted_by, "acted_at": self.acted_at}


def state(conn: psycopg.Connection[Any]) -> LockdownState:
    row = conn.execute(
        "SELECT locked, reason, acted_by, to_char(acted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "FROM pgaudit_kit.lockdown_event ORDER BY id DESC LIMIT 1").fetchone()
    return LockdownState(False) if row is None else LockdownState(bool(row[0]), row[1], row[2], row[3])


def check_reason(reason: str | None) -> None:
    """A lockdown or unlock needs a reason (it is recorded): UsageError without one."""
    if not reason or not reason.strip():
        raise UsageError("--reason is required and must not be empty")


def set_locked(conn: psycopg.Connection[Any], locked: bool, reason: str) -> bool:
    """Lock down (or unlock). Returns False when the kit was already in that state."""
    check_reason(reason)
    with db.translated_errors():
        db.require_writable(conn)
        with conn.transaction():
            db.require_installed(conn)
            function = "pgaudit_kit.lockdown" if locked else "pgaudit_kit.unlock"
            row = conn.execute(f"SELECT {function}(%s)", (reason,)).fetchone()  # noqa: S608 -- one of two names
    return bool(row and row[0])
