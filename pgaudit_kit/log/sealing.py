"""Sealing, backlog and checkpoints, as run from the client."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..core import anchors, names, signing
from ..core.errors import KitError, UsageError
from ..pg import db
from . import partitions


def stored_note(value: Any) -> str:
    """A checkpoint note as the database stores it (its UTF-8 bytes since revision 0012, text before) as text.
    Bytes that are not UTF-8 (only an edit stores them) become replacement characters: the note then fails its
    signature check, a finding, never an error."""
    if isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "replace")


def origin(conn: psycopg.Connection[Any]) -> str:
    """The checkpoint origin naming this database instance: cluster system identifier, database, install id."""
    row = conn.execute(
        "SELECT (SELECT system_identifier FROM pg_control_system())::text, current_database(), "
        "(SELECT install_id::text FROM pgaudit_kit.install)"
    ).fetchone()
    assert row is not None
    return signing.origin_line(*row)


def seal(conn: psycopg.Connection[Any], batch: int = 10000,
         between: Callable[[int], bool] | None = None) -> int:
    """Seal everything sealable now (several blocks if needed). Returns the number of events sealed.

    *between* runs after each full block with the number sealed so far, and sealing stops there when it returns
    False (the `seal` command shows its progress there; the follower renews its lease there while it works off a
    backlog, and stops on SIGTERM without finishing the backlog)."""
    total = 0
    with db.translated_errors():
        while True:
            with conn.transaction():
                row = conn.execute("SELECT pgaudit_kit.seal(%s, true)", (batch,)).fetchone()
            sealed = int(row[0]) if row else 0
            total += sealed
            if sealed < batch:
                return total
            if between and not between(total):
                return total


def partitions_ahead(conn: psycopg.Connection[Any], report: Callable[[str], None]) -> int:
    """Keep the event table's partitions ahead of its identity (the kit's default: two), as every seal does; a lock
    not granted (a reader of the whole event table) is reported and left to the next seal. Returns how many were
    created."""
    try:
        return partitions.add_ahead(conn)
    except KitError as exc:
        report(f"warning: partitions of the event table not created this time: {exc}")
        return 0


# How often a follower looks after the event table's partitions: a look that finds enough of them ahead costs one
# catalog query and takes no lock, and a busy log (four thousand single-row events a second) can fill a first-width
# partition in a quarter of a minute; a creation that did not get its lock (a long statement on the event table) is
# tried again at the next look. Its warnings are reported at most once a minute.
PARTITIONS_EVERY_SECONDS = 5.0
PARTITION_WARNINGS_EVERY_SECONDS = 60.0

# How often an idle follower looks at its stop flag while it waits for a notification.
STOP_CHECK_SECONDS = 0.25


@dataclass
class Follower:
    """`seal --follow`: seals until *stop* is set, holding the seal lease meanwhile, so that writers leave sealing to
    it instead of sealing at their commit (pgaudit_kit.seal_at_commit).

    While it finds events to seal it seals again every *interval* seconds, and writers pay nothing for it. When a
    round finds nothing, it also takes a watch lease, so that the next commits notify it, and waits for a
    notification or *interval*, whichever comes first: on an idle database a new write is sealed at once, however
    long the interval, and the interval only bounds the wait (a transaction whose first write came before the
    lease does not notify). Under load it never idles, so writers never queue the notifying commit trigger.

    The seal lease outlives a missed renewal or two (a long seal, a slow server) and runs out soon after the
    process dies, so that writers take sealing back by themselves; a clean stop gives it back at once."""

    conn: psycopg.Connection[Any]
    interval: float
    stop: threading.Event
    report: Callable[[str], None]
    report_every: float = 60.0
    sealed: int = 0
    _partitioned: float = -PARTITIONS_EVERY_SECONDS  # when the partitions were last looked after
    _warned: float = -PARTITION_WARNINGS_EVERY_SECONDS

    @property
    def lease_seconds(self) -> int:
        return max(10, math.ceil(self.interval * 5))

    def run(self) -> int:
        """Returns the number of events sealed."""
        self.report(f"following: sealing every {self.interval:g} s, at once on an idle database's next commit; "
                    f"writers leave sealing to this process (lease {self.lease_seconds} s)")
        renewed = reported = time.monotonic()
        sealed_since_report = 0
        self._renew()
        with db.translated_errors():
            self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(names.NOTIFY_CHANNEL)))
        try:
            while not self.stop.is_set():
                if time.monotonic() - renewed >= self.lease_seconds / 3:
                    self._renew()
                    renewed = time.monotonic()
                count = seal(self.conn, between=self._next_block)
                self.sealed += count
                self._look_after_partitions()
                sealed_since_report += count
                if time.monotonic() - reported >= self.report_every:
                    self.report(f"sealed {sealed_since_report} events in the last {self.report_every:g} s; "
                                f"{self._state()}")
                    reported, sealed_since_report = time.monotonic(), 0
                if count:
                    self.stop.wait(self.interval)
                else:
                    self._wait_for_a_commit()
        finally:
            if not self.conn.closed and not self.conn.broken:
                with db.translated_errors():
                    self.conn.execute("SELECT pgaudit_kit.renew_seal_lease(0)")
        self.report(f"stopped: sealed {self.sealed} events; {self._state()}")
        return self.sealed

    def _wait_for_a_commit(self) -> None:
        """Idle: up to *interval* seconds, until a writer's commit notifies or *stop* is set."""
        with db.translated_errors():
            # the lease covers the wait; it lingers at most that long once writes resume, and only extends. A
            # notification left from a commit during the last seal wakes the next wait at once: one extra round.
            self.conn.execute("SELECT pgaudit_kit.renew_watch_lease(%s)", (math.ceil(self.interval) + 1,))
            deadline = time.monotonic() + self.interval
            while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if any(True for _ in self.conn.notifies(timeout=min(left, STOP_CHECK_SECONDS), stop_after=1)):
                    return

    def _renew(self) -> None:
        with db.translated_errors():
            self.conn.execute("SELECT pgaudit_kit.renew_seal_lease(%s)", (self.lease_seconds,))

    def _next_block(self, _sealed: int) -> bool:
        """Between the blocks of a backlog: keep the lease and the partitions ahead (a backlog of bulk statements
        can take minutes to work off, while writers go on using ids), and go on unless asked to stop."""
        self._renew()
        self._look_after_partitions()
        return not self.stop.is_set()

    def _look_after_partitions(self) -> None:
        """Every PARTITIONS_EVERY_SECONDS, keep the event table's partitions ahead; warnings at most once every
        PARTITION_WARNINGS_EVERY_SECONDS."""
        if time.monotonic() - self._partitioned < PARTITIONS_EVERY_SECONDS:
            return
        warnings: list[str] = []
        if created := partitions_ahead(self.conn, warnings.append):
            self.report(f"created {created} partitions of the event table ahead")
        if warnings and time.monotonic() - self._warned >= PARTITION_WARNINGS_EVERY_SECONDS:
            self.report(warnings[0])
            self._warned = time.monotonic()
        self._partitioned = time.monotonic()

    def _state(self) -> str:
        state = backlog(self.conn)
        return f"log size {state.tree_size}; {state.count} events not yet sealable"


@dataclass
class Backlog:
    count: int
    oldest: datetime | None
    age_seconds: float | None
    tree_size: int
    last_sealed_at: datetime | None
    last_seal_age_seconds: float | None = None  # by the database's clock; None before the first block


def backlog(conn: psycopg.Connection[Any]) -> Backlog:
    """Recorded events not sealed yet: those in pgaudit_kit.event after the sealed position and those still in
    chunks (counted from their n_events, not expanded)."""
    chunks = ("SELECT sum(c.n_events), min(c.statement_ts) FROM pgaudit_kit.event_chunk c"
              if db.has_kit_relation(conn, "event_chunk")
              else "SELECT 0, NULL::timestamptz")  # a revision before 0010
    row = conn.execute(
        """
        WITH last AS (SELECT * FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1),
             waiting(n, oldest) AS (
                 SELECT count(e.id), min(e.statement_ts) FROM pgaudit_kit.event e
                  WHERE (e.xid, e.id) > COALESCE((SELECT (last_xid, last_event_id) FROM last), ('0'::xid8, 0::bigint))
                 UNION ALL """ + chunks + """)
        SELECT COALESCE(sum(w.n), 0), min(w.oldest),
               -- no interval (an extreme timestamp a superuser stored overflows one), no infinity (JSON has none)
               LEAST(GREATEST((EXTRACT(epoch FROM clock_timestamp()) - EXTRACT(epoch FROM min(w.oldest)))::float8,
                              -1e308), 1e308),
               COALESCE((SELECT tree_size FROM last), 0), (SELECT sealed_at FROM last),
               LEAST(GREATEST((EXTRACT(epoch FROM clock_timestamp())
                               - EXTRACT(epoch FROM (SELECT sealed_at FROM last)))::float8, -1e308), 1e308)
          FROM waiting w
        """  # noqa: S608 -- constant SQL
    ).fetchone()
    assert row is not None
    return Backlog(int(row[0]), row[1], row[2], int(row[3]), row[4], row[5])


def follower_lease(conn: psycopg.Connection[Any]) -> datetime | None:
    """Until when a `seal --follow` process holds the seal lease (writers leave sealing to it), or None."""
    if not db.has_kit_relation(conn, "seal_lease"):
        return None  # a revision before 0008
    row = conn.execute(
        "SELECT to_timestamp(s.until) FROM (SELECT pg_sequence_last_value('pgaudit_kit.seal_lease') AS until) s "
        "WHERE s.until > extract(epoch FROM clock_timestamp())"
    ).fetchone()
    return row[0] if row else None


@dataclass
class CheckpointResult:
    origin: str
    tree_size: int
    root: bytes
    note: str
    anchored_at: Path | None


def checkpoint(conn: psycopg.Connection[Any], key: signing.SignerKey, anchor_dir: Path | None) -> CheckpointResult:
    """Seal, sign the newest tree head in the client, store it in the database, then anchor it."""
    db.require_writable(conn)
    db.require_installed(conn)
    seal(conn)
    with db.translated_errors():
        head = conn.execute("SELECT tree_size, root FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1").fetchone()
        if head is None:
            raise UsageError("nothing sealed yet: there is no history to checkpoint")
        name = origin(conn)
        body = signing.Checkpoint(name, int(head[0]), bytes(head[1]))
        note = signing.sign_note(body.body(), key)
        with conn.transaction():
            conn.execute("SELECT pgaudit_kit.store_checkpoint(%s, %s, %s, %s)",
                         (name, body.size, body.root, note.encode("utf-8")))
    path = anchors.append(anchor_dir, name, body.size, note) if anchor_dir else None
    return CheckpointResult(name, body.size, body.root, note, path)
