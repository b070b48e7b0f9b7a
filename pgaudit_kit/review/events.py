"""Recorded events as the review commands show them, streamed from a server-side cursor, each with its
seal status (sealed at seq N in block B, pending, or not in the log).

Reads run inside the caller's transaction (a REPEATABLE READ READ ONLY snapshot, see
:func:`pgaudit_kit.pg.db.begin_consistent_read`), so an event and its seal status come from one snapshot.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ..pg.db import int_array
from . import export
from .query import OPERATIONS, Cursor, EventFilter, ResolvedTable, event_query, filter_conditions, resolve_tables
from .selective import page_conditions, plan_for_whole_result
from .timeparse import format_time

CHUNK = 500  # rows per FETCH from the server-side cursor: memory stays flat however many events match
EXPORT_CHUNK = 5000  # lines per FETCH of an export (review.export): a few MB


class RawJson(str):
    """JSON text from the database, emitted as is (jsonb numbers keep their exact digits)."""


@dataclass(frozen=True)
class SealStatus:
    """``sealed`` (seq and block known), ``pending`` (after the sealed position: sealing will take it) or
    ``not_in_log`` (behind the sealed position yet in no block: verify reports why)."""

    status: str
    seq: int | None = None
    block: int | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.status == "sealed":
            return {"status": self.status, "seq": self.seq, "block": self.block}
        return {"status": self.status}

    def __str__(self) -> str:
        return f"seq {self.seq}" if self.status == "sealed" else self.status.replace("_", " ")


PENDING = SealStatus("pending")


@dataclass
class Event:
    """One recorded event with its transaction's who/where. Images are jsonb objects of column text."""

    id: int
    xid: int
    time: datetime
    op: str
    relid: int | None
    schema: str | None
    table: str | None
    partition: str | None
    pk: dict[str, Any] | None
    row_data: dict[str, Any] | None
    old_values: dict[str, Any] | None
    statement: str | None
    has_transaction: bool
    actor: str | None
    acting_role: str | None
    session_role: str | None
    context: RawJson | None
    context_raw: str | None
    application_name: str | None
    client_addr: str | None
    client_port: int | None
    backend_pid: int | None
    xact_start: datetime | None
    seal: SealStatus = field(default=PENDING)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Event:
        return cls(int(row[0]), int(row[1]), row[2], str(row[3]), row[4], row[5], row[6], row[7], row[8], row[9],
                   row[10], row[11], bool(row[12]), row[13], row[14], row[15],
                   RawJson(row[16]) if row[16] is not None else None, row[17], row[18], row[19], row[20], row[21],
                   row[22])

    @property
    def operation(self) -> str:
        return OPERATIONS.get(self.op, self.op)

    @property
    def old(self) -> dict[str, Any] | None:
        """The row before the change (UPDATE: new image with the previous values of changed columns)."""
        if self.op == "U":
            return {**(self.row_data or {}), **(self.old_values or {})}
        if self.op in ("D", "T"):
            return self.row_data
        return None

    @property
    def new(self) -> dict[str, Any] | None:
        """The row after the change (INSERT, UPDATE)."""
        return self.row_data if self.op in ("I", "U") else None

    @property
    def changed(self) -> list[str] | None:
        return list(self.old_values or {}) if self.op == "U" else None

    @property
    def details(self) -> dict[str, Any] | None:
        """What a DDL (S), control (K) or review (R) event records."""
        return self.row_data if self.op in ("S", "K", "R") else None

    @property
    def qualified_table(self) -> str | None:
        if self.table is None:
            return self.schema
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def as_dict(self) -> dict[str, Any]:
        """The event as the machine formats show it (json, jsonl, csv), keys in a fixed order."""
        return {
            "id": self.id, "xid": self.xid, "time": format_time(self.time), "op": self.op,
            "operation": self.operation, "schema": self.schema, "table": self.table, "partition": self.partition,
            "relid": self.relid, "pk": self.pk, "old": self.old, "new": self.new, "changed": self.changed,
            "details": self.details, "statement": self.statement, "actor": self.actor,
            "acting_role": self.acting_role, "session_role": self.session_role, "context": self.context,
            "context_raw": self.context_raw, "application_name": self.application_name,
            "client_addr": self.client_addr, "client_port": self.client_port, "backend_pid": self.backend_pid,
            "xact_start": format_time(self.xact_start), "seal": self.seal.as_dict(),
        }


@dataclass(slots=True)
class Line:
    """One event as the server formatted it for an export (review.export): its text up to the seal status."""

    id: int
    xid: int
    text: str
    seal: SealStatus = PENDING


class SealResolver:
    """Finds the seal status of events: the block whose position range covers (xid, id), then the event's
    place in that block's event_ids.

    The blocks a chunk of events falls in are read once per chunk (their positions, not their id lists), and
    each event is placed among them by its position; an event far from the others (a long transaction's) is
    looked up on its own. The server then finds the events in their blocks' id lists and sends back only their
    places: an id list is thousands of ids, of which a filtered listing wants a few."""

    BLOCKS_PER_CHUNK = 256  # blocks read for one chunk's events; events beyond them are looked up one by one
    SCAN_BLOCK = 32  # events of one block from which one pass over its id list beats a search per event

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._sealed_to: tuple[int, int] | None = None
        self._closed_xid: int | None = None  # the last sealed transaction, when all its events are sealed
        self._loaded = False

    def _position(self) -> tuple[int, int] | None:
        if not self._loaded:
            row = self._conn.execute("SELECT last_xid::text, last_event_id, last_xid_sealed >= last_xid_events "
                                     "FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1").fetchone()
            self._sealed_to = (int(row[0]), int(row[1])) if row else None
            self._closed_xid = int(row[0]) if row and row[2] else None
            self._loaded = True
        return self._sealed_to

    def forget_position(self) -> None:
        """Re-read the sealed position at the next call (after a new snapshot)."""
        self._loaded = False

    def _blocks(self, behind: Sequence[Event | Line]) -> dict[int, tuple[int, int]]:
        """event id -> (block_no, first_seq) of the block whose position range covers each event."""
        lowest = min((e.xid, e.id) for e in behind)
        rows = self._conn.execute(
            "SELECT block_no, first_seq, last_xid::text, last_event_id FROM pgaudit_kit.block"
            " WHERE (last_xid, last_event_id) >= (%s::text::xid8, %s) ORDER BY last_xid, last_event_id LIMIT %s",
            (str(lowest[0]), lowest[1], self.BLOCKS_PER_CHUNK)).fetchall()
        ends = [(int(r[2]), int(r[3])) for r in rows]
        found: dict[int, tuple[int, int]] = {}
        alone: list[Event | Line] = []
        for event in behind:
            at = bisect.bisect_left(ends, (event.xid, event.id))  # the first block ending at or after it
            if at < len(ends):
                found[event.id] = (int(rows[at][0]), int(rows[at][1]))
            else:  # beyond the blocks read: far from the chunk's other events
                alone.append(event)
        if alone:
            for event_id, block_no, first_seq in self._conn.execute(
                    "SELECT v.id, b.block_no, b.first_seq"
                    "  FROM unnest(%s::int8[], %s::text[]) AS v(id, xid)"
                    " CROSS JOIN LATERAL (SELECT b.block_no, b.first_seq FROM pgaudit_kit.block b"
                    "                      WHERE (b.last_xid, b.last_event_id) >= (v.xid::xid8, v.id)"
                    "                      ORDER BY b.last_xid, b.last_event_id LIMIT 1) b",
                    ([e.id for e in alone], [str(e.xid) for e in alone])).fetchall():
                found[int(event_id)] = (int(block_no), int(first_seq))
        return found

    def _places(self, found: dict[int, tuple[int, int]]) -> dict[int, int | None]:
        """event id -> its index in its block's event_ids (None: not there)."""
        per_block: dict[int, list[int]] = {}
        for event_id, (block_no, _) in found.items():
            per_block.setdefault(block_no, []).append(event_id)
        scan = [b for b, ids in per_block.items() if len(ids) >= self.SCAN_BLOCK]
        search = [(i, b) for b, ids in per_block.items() if len(ids) < self.SCAN_BLOCK for i in ids]
        index: dict[int, int | None] = dict.fromkeys(found)
        if scan:  # many events of each block: one pass over its id list, joined with the wanted ids by hash
            # (a join, not "id = ANY(list)": once psycopg prepares the statement, a generic plan searches the
            # list linearly for every id of the blocks: 6 s a chunk instead of 30 ms)
            for block_no, event_id, position in self._conn.execute(
                    "SELECT u.block_no, u.id, u.n - 1"
                    "  FROM (SELECT b.block_no, x.id, x.n FROM pgaudit_kit.block b"
                    "         CROSS JOIN LATERAL unnest(b.event_ids) WITH ORDINALITY AS x(id, n)"
                    "         WHERE b.block_no = ANY(%s::int8[])) u"
                    "  JOIN unnest(%s::int8[]) AS w(id) ON w.id = u.id ORDER BY u.n",
                    (int_array(scan), int_array(i for b in scan for i in per_block[b]))).fetchall():
                if found.get(int(event_id), (None,))[0] == block_no:  # the last place wins, as verify reads it
                    index[int(event_id)] = int(position)
        if search:  # a few events in each of many blocks: a search in each list
            for event_id, position in self._conn.execute(
                    # straight on the stored array (C, no copy); flattened first only where a superuser's edit
                    # left more dimensions, which array_position refuses (unnest into a new array: 40 times slower)
                    "SELECT v.id, CASE WHEN pg_catalog.array_ndims(b.event_ids) = 1"
                    "                  THEN pg_catalog.array_position(b.event_ids, v.id)"
                    "                  ELSE pg_catalog.array_position(ARRAY(SELECT unnest(b.event_ids)), v.id) END - 1"
                    "  FROM unnest(%s::int8[], %s::int8[]) AS v(id, block_no)"
                    "  JOIN pgaudit_kit.block b ON b.block_no = v.block_no",
                    (int_array(i for i, _ in search), int_array(b for _, b in search))).fetchall():
                index[int(event_id)] = None if position is None else int(position)
        return index

    def resolve(self, events: Sequence[Event | Line]) -> None:
        sealed_to = self._position()
        behind = [e for e in events if sealed_to is not None and (e.xid, e.id) <= sealed_to]
        for event in events:
            # a sealed transaction's event count is fixed: an event added to it later is never sealed
            event.seal = SealStatus("not_in_log") if event.xid == self._closed_xid else PENDING
        if not behind:
            return
        found = self._blocks(behind)
        index = self._places(found)
        for event in behind:
            block = found.get(event.id)
            position = index.get(event.id) if block else None
            if block is None or position is None:
                event.seal = SealStatus("not_in_log")
            else:
                event.seal = SealStatus("sealed", block[1] + position, block[0])


def stream(conn: psycopg.Connection[Any], query: sql.Composed, params: Sequence[Any],
           resolver: SealResolver, first_chunk: int = CHUNK) -> Iterator[list[Event]]:
    """Run *query* (selecting SELECT_EVENTS columns) through a server-side cursor; yield chunks of events
    with their seal status. The caller's transaction must be open."""
    plan_for_whole_result(conn)
    with conn.cursor(name=f"pgaudit_kit_review_{uuid.uuid4().hex[:12]}") as cur:
        cur.execute(query, params)
        size = max(1, first_chunk)
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            events = [Event.from_row(r) for r in rows]
            resolver.resolve(events)
            yield events
            size = CHUNK


def stream_lines(conn: psycopg.Connection[Any], query: sql.Composed, params: Sequence[Any],
                 resolver: SealResolver, first_chunk: int = EXPORT_CHUNK,
                 reader: psycopg.Connection[Any] | None = None) -> Iterator[list[Line]]:
    """Run *query* (selecting id, xid and a formatted line, review.export); yield chunks of lines with their
    seal status. With *reader* (a second connection in the same snapshot, db.begin_in_snapshot), the lines are
    read from it with COPY, so that the server formats the next lines while this process finds seal statuses
    (on *conn*) and writes; else from a cursor on *conn*, each FETCH waiting for the last chunk to be written.
    The caller's transaction must be open."""
    if reader is None:
        plan_for_whole_result(conn)
        with conn.cursor(name=f"pgaudit_kit_export_{uuid.uuid4().hex[:12]}") as cur:
            cur.execute(query, params)
            size = max(1, first_chunk)
            while rows := cur.fetchmany(size):
                lines = [Line(row[0], int(row[1]), row[2]) for row in rows]
                resolver.resolve(lines)
                yield lines
                size = EXPORT_CHUNK
        return
    statement = sql.SQL("COPY (") + query + sql.SQL(") TO STDOUT (FORMAT BINARY)")
    with reader.cursor() as plain, plain.copy(statement, params) as copy:
        copy.set_types(["int8", "text", "text"])
        size = max(1, first_chunk)
        lines = []
        for event_id, xid, text in copy.rows():
            lines.append(Line(event_id, int(xid), text))
            if len(lines) >= size:
                resolver.resolve(lines)
                yield lines
                lines, size = [], EXPORT_CHUNK
        if lines:
            resolver.resolve(lines)
            yield lines


@dataclass
class Page:
    """Paging of `log`: order, where to start, how many (0: all)."""

    order: str = "newest"
    limit: int = 50
    cursor: Cursor | None = None

    def as_review(self) -> dict[str, Any]:
        found: dict[str, Any] = {"order": self.order, "limit": self.limit}
        if self.cursor:
            found["cursor"] = str(self.cursor)
        return found


class EventPage:
    """Iterable of chunks of one page: events, or with *lines* ("csv" or "json"), the events' lines as the
    server formats them (review.export), read from *reader* if given (see stream_lines); ``next_cursor`` is
    set once it is exhausted (None when the page was the last)."""

    def __init__(self, conn: psycopg.Connection[Any], flt: EventFilter, page: Page, lines: str | None = None,
                 reader: psycopg.Connection[Any] | None = None) -> None:
        self.next_cursor: Cursor | None = None
        self.count = 0
        self._conn = conn
        self._page = page
        self._filter = flt
        self._lines = lines
        self._reader = reader
        self._tables: list[ResolvedTable] = (resolve_tables(conn, flt.tables, with_keys=flt.pk is not None)
                                             if flt.tables else [])

    def _chunks(self) -> Iterator[Sequence[Event | Line]]:
        page = self._page
        last = page.cursor.last_id if page.cursor else None
        conditions, sort = page_conditions(self._conn, self._filter, self._tables, page.limit)
        query, params = event_query(
            conditions, order=page.order,
            before_id=last if page.order == "newest" else None,
            after_id=last if page.order == "oldest" else None,
            limit=page.limit + 1 if page.limit else 0, sort=sort)
        resolver = SealResolver(self._conn)
        if self._lines is None:
            yield from stream(self._conn, query, params, resolver, min(page.limit + 1, CHUNK) if page.limit else CHUNK)
            return
        formatted = export.csv_lines if self._lines == "csv" else export.json_lines
        yield from stream_lines(self._conn, formatted(query, page.order == "newest"), params, resolver,
                                min(page.limit + 1, EXPORT_CHUNK) if page.limit else EXPORT_CHUNK, self._reader)

    def __iter__(self) -> Generator[Any, None, None]:
        page = self._page
        last = page.cursor.last_id if page.cursor else None
        for chunk in self._chunks():
            if page.limit and self.count + len(chunk) > page.limit:
                # the query asked for one more than the page: its presence says there is a next page
                chunk = chunk[:page.limit - self.count]
                self.count += len(chunk)
                if chunk:
                    last = chunk[-1].id
                    yield chunk
                self.next_cursor = Cursor(page.order, last if last is not None else 0)
                return
            self.count += len(chunk)
            if chunk:
                last = chunk[-1].id
            yield chunk


@dataclass
class Transaction:
    """The who/where row of one transaction."""

    xid: int
    xact_start: datetime
    session_role: str
    acting_role: str
    actor: str | None
    context: RawJson | None
    context_raw: str | None
    application_name: str | None
    client_addr: str | None
    client_port: int | None
    backend_pid: int

    def as_dict(self) -> dict[str, Any]:
        return {"xid": self.xid, "xact_start": format_time(self.xact_start), "session_role": self.session_role,
                "acting_role": self.acting_role, "actor": self.actor, "context": self.context,
                "context_raw": self.context_raw, "application_name": self.application_name,
                "client_addr": self.client_addr, "client_port": self.client_port, "backend_pid": self.backend_pid}


def transaction(conn: psycopg.Connection[Any], xid: int) -> Transaction | None:
    row = conn.execute(
        "SELECT xid::text, xact_start, session_role, acting_role, actor, context::text, context_raw, application_name,"
        " pg_catalog.host(client_addr), client_port, backend_pid FROM pgaudit_kit.transaction WHERE xid = %s::xid8",
        (str(xid),)).fetchone()
    if row is None:
        return None
    return Transaction(int(row[0]), row[1], row[2], row[3], row[4], RawJson(row[5]) if row[5] is not None else None,
                       *row[6:])


def transaction_events(conn: psycopg.Connection[Any], xid: int) -> Iterator[list[Event]]:
    """Every event of one transaction (all operations, reviews included), in recording order."""
    query, params = event_query(filter_conditions(EventFilter(txids=(xid,), ops=frozenset(OPERATIONS)), []),
                                order="oldest")
    return stream(conn, query, params, SealResolver(conn))
