"""Review events: every read of history through the kit is recorded before it happens.

`verify`, `prove`, `reconcile` and the query commands call :func:`record_review` first, in a
transaction of its own that commits, so the record survives whatever the read does next (and is in the
sealed log that the read may be checking). Recording needs the reader or admin role, which is also
what reviewing needs: a role that cannot record its review cannot review.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.types.json import Jsonb

from . import db
from .errors import EXIT_FINDINGS, InsufficientPrivilege, KitError, ReadOnlyServer


class ReviewNotStored(KitError):
    """The event table did not store the review: something tampers with it (a check failed, exit 1)."""

    exit_code = EXIT_FINDINGS


def record_review(conn: psycopg.Connection[Any], command: str, filters: dict[str, Any]) -> int:
    """Record that *command* is about to read history with *filters*; returns the review event's id.

    Commits on its own (the connection must not be inside a transaction). Filters are stored as given:
    pass only JSON-serialisable values (paths and times as strings).
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("record_review needs a connection outside any transaction")
    try:
        with conn.transaction():
            db.require_installed(conn)
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row and row[0]:
                raise ReadOnlyServer(f"{db.describe_target(conn)} is a read-only standby: reviews of history are "
                                     "recorded in the audit log, so run this against the primary")
            row = conn.execute("SELECT pgaudit_kit.record_review(%s, %s)", (command, Jsonb(filters))).fetchone()
    except pgerrors.DataCorrupted as exc:
        raise ReviewNotStored(exc.diag.message_primary or str(exc)) from exc
    except pgerrors.InsufficientPrivilege as exc:
        raise InsufficientPrivilege(
            f"{conn.info.user} may not review audit history: grant it a kit role "
            "(pgaudit-kit grant reader ROLE, or admin)") from exc
    assert row is not None
    return int(row[0])
