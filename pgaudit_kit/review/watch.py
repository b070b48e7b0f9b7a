"""`pgaudit-kit watch`: follow new events live, exactly once each, across dropped connections and restarts.

Position. Events become visible when their transaction commits, which is not the order of their ids, so
"after event N" cannot say what is new. The position is a pair of snapshots instead: everything visible
in ``lo`` has been printed; the batch in progress prints, in id order, the events visible in ``hi`` but
not in ``lo`` (a transaction is visible in a snapshot when its xid is below the snapshot's xmax and not
in its in-progress list), and ``after_id`` is the last one printed. A transaction commits all its events
at once, so no event can fall between two snapshots, and a snapshot stays meaningful across a restart
(transaction ids only grow; transactions cut off by the restart never commit). After a batch, ``lo``
becomes ``hi``. Nothing is printed twice and nothing is skipped, whenever the connection drops.

Waking up. The watcher LISTENs on ``pgaudit_kit_events`` and renews a lease (a kit sequence holding a
Unix time); while the lease is valid audited transactions notify at commit, at most one every 100 ms in
all (a NOTIFY makes committers commit one at a time), so after each wake-up the watcher reads once more
250 ms later, for transactions that relied on another's notification. Transactions that were already
committing when the lease was taken (or renewed after a lapse) may not notify: they are the in-progress
list of the first snapshot taken afterwards, and the watcher re-reads once a second until they have all
ended. A heartbeat (default 5 s) renews the lease and reads once more in any case. When notifications
are unavailable (max_prepared_transactions > 0: a NOTIFY would make PREPARE TRANSACTION fail), the
watcher reads every poll interval instead.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..core import names
from ..core.errors import EnvironmentProblem, InsufficientPrivilege, NotInstalled, UsageError
from ..pg import reviews
from .events import Event, SealResolver, stream
from .query import Conditions, EventFilter, event_query, filter_conditions, resolve_tables
from .timeparse import TimeBound

CHANNEL = names.NOTIFY_CHANNEL
LEASE_SECONDS = 60
TRAILING_READ = 0.25  # seconds after a wake-up to read once more (notifications are sent at most every 100 ms)
STATE_FORMAT = "pgaudit-kit-watch-state/1"


@dataclass(frozen=True)
class Snapshot:
    """A pg_snapshot: xmin, xmax and the transactions in progress (as text: ``xmin:xmax:xip,...``)."""

    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        try:
            xmin, xmax, xip = text.split(":")
            return cls(int(xmin), int(xmax), tuple(int(x) for x in xip.split(",") if x))
        except ValueError:
            raise UsageError(f"not a snapshot: {text[:80]!r}") from None

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(x) for x in self.xip)}"


@dataclass
class Position:
    lo: Snapshot | None
    hi: Snapshot | None = None
    after_id: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"lo": str(self.lo) if self.lo else None, "hi": str(self.hi) if self.hi else None,
                "after_id": self.after_id}


@dataclass
class WatchOptions:
    heartbeat: float = 5.0
    poll_interval: float = 1.0
    reconnect_timeout: float = 0.0  # 0: keep trying
    limit: int = 0  # stop after this many events (0: never)
    state_path: Path | None = None
    once: bool = False  # read what is there (from --since, else from the start) and return
    review_command: str = "watch"  # the command the review event records
    review_extra: dict[str, Any] = field(default_factory=dict)  # more for the review's filter


class Pause(Exception):
    """Raised by *emit* (or *idle*) when an event cannot be handled now (an alert sink is down): the event is
    not taken, the position stays before it, and the watcher tries again after *delay* seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


def _conditions(position: Position) -> Conditions:
    cond = Conditions()
    if position.lo is not None:  # not visible in lo
        cond.add("e.xid >= %s::text::xid8 OR e.xid = ANY(%s::text[]::xid8[])",
                 str(position.lo.xmax), [str(x) for x in position.lo.xip])
    if position.hi is not None:  # visible in hi
        cond.add("e.xid < %s::text::xid8 AND NOT (e.xid = ANY(%s::text[]::xid8[]))",
                 str(position.hi.xmax), [str(x) for x in position.hi.xip])
    if position.after_id:
        cond.add("e.id > %s", position.after_id)
    return cond


class Watcher:
    """Follows events matching a filter; calls *emit* for each, in order, exactly once."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], flt: EventFilter, options: WatchOptions,
                 emit: Callable[[Event], None], note: Callable[[str], None],
                 idle: Callable[[psycopg.Connection[Any]], None] | None = None,
                 carried: tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]] | None = None) -> None:
        """*idle* runs after each batch, outside its transaction (it may raise Pause); *carried* is a pair of
        functions that give and take back the caller's own state, saved in the state file with the position
        (and so always consistent with it)."""
        self.connect = connect  # called again after a lost connection
        self.idle = idle
        self.carried = carried
        self.catch_up_filter = flt
        self.live_filter = replace(flt, since=None)  # --since only reaches back; live events are all new
        self.options = options
        self.emit = emit
        self.note = note
        self.position: Position | None = None
        self.printed = 0
        self._install_id: str | None = None
        self._unnotified: set[int] | None = None
        self._lease_until = 0.0
        self._notifying = False
        self._trailing = False
        self._saved_at = 0

    @property
    def install_id(self) -> str | None:
        """The kit installation followed (from the state file, else read at the first connection)."""
        return self._install_id

    # -- state file ------------------------------------------------------------------------------------
    def load_state(self) -> None:
        path = self.options.state_path
        if path is None or not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != STATE_FORMAT:
                raise ValueError("unknown format")
            self._install_id = str(data["install_id"])
            self.position = Position(Snapshot.parse(data["lo"]) if data.get("lo") else None,
                                     Snapshot.parse(data["hi"]) if data.get("hi") else None, int(data["after_id"]))
            if self.carried is not None:
                self.carried[1](dict(data.get("carried") or {}))
        except (OSError, ValueError, KeyError, TypeError, UsageError) as exc:
            raise UsageError(f"--state {path}: not a watch state file ({exc})") from None

    def save_state(self) -> None:
        path = self.options.state_path
        if path is None or self.position is None:
            return
        data = {"format": STATE_FORMAT, "install_id": self._install_id, **self.position.as_dict()}
        if self.carried is not None:
            data["carried"] = self.carried[0]()
        handle, temporary = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.write("\n")
        os.replace(temporary, path)
        self._saved_at = self.printed

    # -- one connection's life -------------------------------------------------------------------------
    def _open(self, resumed: bool) -> psycopg.Connection[Any]:
        conn = self.connect()
        try:
            filters: dict[str, Any] = dict(self.catch_up_filter.as_review())
            if resumed:
                filters["resumed_after"] = self.position.as_dict() if self.position else None
            # recorded again on each reconnect; the batches read in snapshots of their own, taken after LISTEN
            # and the lease below (see the module docstring)
            filters.update(self.options.review_extra)
            with reviews.reviewed_read(conn, self.options.review_command, filters):
                install = conn.execute("SELECT install_id::text FROM pgaudit_kit.install").fetchone()
                flt = self.catch_up_filter
                if flt.tables:  # a table that is not there is an error now, not at the first new event
                    resolve_tables(conn, flt.tables, with_keys=flt.pk is not None)
            install_id = str(install[0]) if install else ""
            if self._install_id is None:
                self._install_id = install_id
            elif self._install_id != install_id:
                raise UsageError("the watch state belongs to another installation of the kit (install id "
                                 f"{self._install_id}, this database has {install_id})")
            conn.execute(f"LISTEN {CHANNEL}")
            self._renew(conn, force=True)
        except BaseException:
            conn.close()
            raise
        self._unnotified = None  # transactions already writing may not notify: found from the next snapshot
        return conn

    def _renew(self, conn: psycopg.Connection[Any], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._lease_until - LEASE_SECONDS * 2 / 3:
            return
        lapsed = now >= self._lease_until
        row = conn.execute("SELECT pgaudit_kit.renew_watch_lease(%s)", (LEASE_SECONDS,)).fetchone()
        notifying = bool(row and row[0])
        if not notifying and (force or self._notifying):
            self.note("notifications are unavailable (max_prepared_transactions > 0: a NOTIFY would make PREPARE "
                      f"TRANSACTION fail); reading every {self.options.poll_interval:g} s instead")
        self._notifying = notifying
        self._lease_until = now + LEASE_SECONDS
        if lapsed:
            self._unnotified = None

    def _batch(self, conn: psycopg.Connection[Any]) -> bool:
        """Print what is new; returns False when --limit is reached."""
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            row = conn.execute("SELECT pg_catalog.pg_current_snapshot()::text").fetchone()
            assert row is not None
            current = Snapshot.parse(str(row[0]))
            if self.position is None:
                since = self.catch_up_filter.since
                if since is not None and since.ago is not None:  # fix "10m" now: a resumed catch-up must not drift
                    expr, param = since.sql()
                    fixed = conn.execute(sql.SQL("SELECT ") + expr, (param,)).fetchone()
                    assert fixed is not None
                    self.catch_up_filter = replace(self.catch_up_filter,
                                                   since=TimeBound(text=since.text, instant=fixed[0]))
                self.position = Position(None, current) if since or self.options.once else Position(current)
            position = self.position
            if self._unnotified is None:
                self._unnotified = set(current.xip)
            else:
                self._unnotified &= set(current.xip)
            if position.hi is None and position.lo == current:
                return True
            if position.hi is None:
                position.hi = current
            flt = self.catch_up_filter if position.lo is None else self.live_filter
            tables = resolve_tables(conn, flt.tables, with_keys=flt.pk is not None) if flt.tables else []
            cond = filter_conditions(flt, tables)
            window = _conditions(position)
            query, params = event_query(Conditions(cond.parts + window.parts, cond.params + window.params),
                                        order="oldest")
            for events in stream(conn, query, params, SealResolver(conn)):
                for event in events:
                    self.emit(event)
                    position.after_id = event.id
                    self.printed += 1
                    if self.options.limit and self.printed >= self.options.limit:
                        self.save_state()
                        return False
                if self.printed - self._saved_at >= 1000:
                    self.save_state()
        self.position = Position(position.hi)
        self.save_state()
        return True

    def _wait(self, conn: psycopg.Connection[Any]) -> None:
        if not self._notifying:
            timeout = self.options.poll_interval
        elif self._unnotified or self._trailing:
            # a transaction that relied on another's notification (at most one per 100 ms is sent) has
            # committed by now; and transactions that began writing before the lease may not notify at all
            timeout = min(TRAILING_READ if self._trailing else 1.0, self.options.heartbeat)
        else:
            timeout = self.options.heartbeat
        self._trailing = False
        woke = False
        for _ in conn.notifies(timeout=timeout, stop_after=1):
            woke = True
        if woke:
            for _ in conn.notifies(timeout=0):  # what queued up meanwhile: one read covers all of it
                pass
            self._trailing = True
        self._renew(conn)

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> None:
        """Follow until --limit is reached (returns) or a non-connection error (raised). A dropped
        connection is re-opened, with backoff, until --reconnect-timeout (0: forever)."""
        self.load_state()
        loaded = self.position is not None
        conn = self._open(resumed=loaded)
        started = False
        try:
            while True:
                try:
                    if not self._batch(conn) or self.options.once:
                        return
                    if self.idle is not None:
                        self.idle(conn)
                    if not started:
                        started = True
                        self.note("following new events" + (" (resumed from the state file)" if loaded else ""))
                    self._wait(conn)
                except Pause as pause:
                    # the batch's transaction has rolled back; the position is before the event not taken
                    self.save_state()
                    self.note(f"{pause}; trying again in {pause.delay:g} s (position kept)")
                    time.sleep(pause.delay)
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
                        raise
                    conn.close()
                    conn = self._reconnect(exc)
        finally:
            conn.close()

    def _reconnect(self, cause: Exception) -> psycopg.Connection[Any]:
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        where = f" after event {self.position.after_id}" if self.position and self.position.after_id else ""
        self.note(f"connection lost ({reason}); reconnecting (position kept{where})")
        started = time.monotonic()
        delay = 0.2
        while True:
            time.sleep(delay)
            try:
                conn = self._open(resumed=True)
            except (InsufficientPrivilege, NotInstalled, UsageError):
                raise
            except (EnvironmentProblem, psycopg.OperationalError) as exc:
                timeout = self.options.reconnect_timeout
                if timeout and time.monotonic() - started > timeout:
                    raise EnvironmentProblem(f"could not reconnect within {timeout:g} s: {exc}") from exc
                delay = min(delay * 2, 5.0)
                continue
            self.note("reconnected; resuming")
            return conn


def stderr_note(message: str) -> None:
    print(f"pgaudit-kit: watch: {message}", file=sys.stderr, flush=True)


__all__ = ["CHANNEL", "Pause", "Position", "Snapshot", "WatchOptions", "Watcher", "stderr_note"]
