"""Review events: every read of history through the kit is recorded before it happens.

`verify`, `prove`, `reconcile`, `watch` and the query commands (`log`, `history`, `tx`) read through
:func:`reviewed_read`: it records the review first, in a transaction of its own that commits, so the record
survives whatever the read does next (and is in the sealed log that the read may be checking), then opens
the one read-only snapshot the command reads in. Recording needs the reader or admin role, which is also
what reviewing needs: a role that cannot record its review cannot review.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.types.json import Jsonb

from ..core.errors import EXIT_FINDINGS, InsufficientPrivilege, KitError, ReadOnlyServer
from . import db


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


@dataclass(frozen=True)
class Review:
    """What :func:`reviewed_read` opened.

    event_id: the review event recorded (None when the event table refused it, see *tolerate_not_stored*);
    not_stored: why it was refused; snapshot: the exported snapshot's id (with *share_snapshot*), for other
    connections to read in the same snapshot (``SET TRANSACTION SNAPSHOT``), or None.
    """

    event_id: int | None
    not_stored: str | None = None
    snapshot: str | None = None


@contextmanager
def reviewed_read(conn: psycopg.Connection[Any], command: str, filters: dict[str, Any], *,
                  share_snapshot: bool = False, tolerate_not_stored: bool = False) -> Iterator[Review]:
    """Record that *command* reads history with *filters* (committed, :func:`record_review`), then read
    inside the block in one REPEATABLE READ, READ ONLY snapshot of a database that has the kit. The
    snapshot ends (rolled back: nothing was written) when the block ends.

    *conn* must be outside any transaction (autocommit or not; an autocommit connection is back in
    autocommit afterwards). *share_snapshot*: export the snapshot (Review.snapshot). *tolerate_not_stored*:
    when the event table refuses the review (ReviewNotStored: it is being tampered with), read anyway and
    say why in Review.not_stored, for a command whose job is to report exactly that.

    Raises InsufficientPrivilege (no kit role), NotInstalled, ReadOnlyServer (a standby: the review
    cannot be recorded), ReviewNotStored, and the kit error a database failure means, before anything is read.
    """
    autocommit = conn.autocommit
    with db.translated_errors():
        try:
            review = Review(record_review(conn, command, filters))
        except ReviewNotStored as exc:
            if not tolerate_not_stored:
                raise
            review = Review(None, not_stored=str(exc))
        conn.autocommit = False  # the snapshot is a transaction, whatever the connection does otherwise
        try:
            if share_snapshot:
                review = replace(review, snapshot=db.begin_shared_read(conn))
            else:
                db.begin_consistent_read(conn)
        except BaseException:
            _end_snapshot(conn, autocommit, quiet=True)
            raise
    try:
        yield review
    except BaseException:
        _end_snapshot(conn, autocommit, quiet=True)
        raise
    _end_snapshot(conn, autocommit)


def _end_snapshot(conn: psycopg.Connection[Any], autocommit: bool, quiet: bool = False) -> None:
    """Roll the snapshot back and restore autocommit. *quiet*: another error is on its way, which a failure
    here (a connection that broke) must not replace."""
    if conn.closed:  # a broken connection: nothing to end
        return
    try:
        conn.rollback()
        conn.autocommit = autocommit
    except psycopg.Error:
        if not quiet:
            raise
