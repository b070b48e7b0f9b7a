"""Recompute the leaf of every stored event on the server and read them in (xid, id) order, split over
several connections that share one snapshot.

Recomputing a leaf (encoding it and hashing it with the built-in ``sha256``) is most of what
``verify --full`` costs, and one backend does it on one core. So the events after the start position
are cut into chunks at block boundaries; chunk k is read by worker k mod N, each worker on its own
connection inside the verifying transaction's snapshot (``pg_export_snapshot`` / ``SET TRANSACTION
SNAPSHOT``), and the chunks are handed on in order. A worker reads at most about one chunk ahead of the
one being checked, so memory stays flat whatever the size of the log. A query returns a page of events
as one row of three arrays (xids, ids, leaves): no dearer for the server than a row per event, and much
cheaper for the client.

Only built-in functions recompute a leaf: the kit's own could have been replaced by whoever tampered
with the log.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Generator, Sequence
from contextlib import ExitStack
from typing import Any

import psycopg

from ..core.encoding import EVENT_MAGIC, EVENT_OWN_FIELD_SQL, NULL_FIELD, TRANSACTION_FIELD_SQL, sent_fields_sql
from ..core.errors import KitError
from ..core.merkle import HASH_SIZE
from ..pg import db
from .event_stream import Page

Position = tuple[int, int]  # (xid, event id)

PAGE = 100000  # events per query at most (a page is one row of three arrays: no row per event is sent)
CHUNK = 50000  # events per chunk, about: chunks end at block boundaries, so most are one page
QUEUED_PAGES = 3  # per worker: the chunk after the one being checked (a page and its end), and a page
END = (2**64 - 1, 2**63 - 1)  # past every (xid8, bigint) position

# The leaf is SHA-256 of 0x00, the magic, the event's own fields and its transaction record's fields
# (all NULL when there is none). The fields are assembled by array_send of text[] (encoding.sent_fields_sql),
# which gives their UTF-8 bytes because every reading connection has client_encoding UTF8.
LEAF_PREFIX_SQL = "'\\x00" + EVENT_MAGIC.hex() + "'::bytea"
EVENT_PART_SQL = sent_fields_sql(EVENT_OWN_FIELD_SQL)
TRANSACTION_PART_SQL = sent_fields_sql(TRANSACTION_FIELD_SQL)
NO_TRANSACTION_PART_SQL = "'\\x" + NULL_FIELD.hex() * len(TRANSACTION_FIELD_SQL) + "'::bytea"

# An xid8 as a bigint, for the page's array of int8 (cheap to send and to read): above 2^63 - 1 (only a
# superuser's edit stores one) it wraps to a negative value, which read_page maps back.
XID_AS_INT8 = ("CASE WHEN {0} < '9223372036854775808'::xid8 THEN {0}::text::int8 "
               "ELSE ({0}::text::numeric - 18446744073709551616)::int8 END")
_WRAP = 2**64

# One page: the first %(page)s events after lo, up to hi, in (xid, id) order, and any more at the last
# position (only a dropped primary key allows that: the next page starts after it). The transaction part is
# computed once per transaction record, in a subquery that OFFSET 0 keeps from being merged into the join
# (merged, it would be computed again for every event); its xid range ends where the page does, found
# first on the index alone.
PAGE_SQL = f"""
SELECT array_agg({XID_AS_INT8.format("p.xid")} ORDER BY p.xid, p.id), array_agg(p.id ORDER BY p.xid, p.id),
       string_agg(p.leaf, ''::bytea ORDER BY p.xid, p.id)
  FROM (SELECT e.xid, e.id,
               sha256({LEAF_PREFIX_SQL} || {EVENT_PART_SQL} || COALESCE(t.part, {NO_TRANSACTION_PART_SQL})) AS leaf
          FROM pgaudit_kit.event e
          LEFT JOIN (SELECT t.xid, {TRANSACTION_PART_SQL} AS part
                       FROM pgaudit_kit.transaction t
                      WHERE t.xid >= %(lo_xid)s::text::xid8
                        AND t.xid <= COALESCE((SELECT x.xid FROM pgaudit_kit.event x
                                                WHERE (x.xid, x.id) > (%(lo_xid)s::text::xid8, %(lo_id)s)
                                                  AND (x.xid, x.id) <= (%(hi_xid)s::text::xid8, %(hi_id)s)
                                                ORDER BY x.xid, x.id OFFSET %(page)s - 1 LIMIT 1),
                                              %(hi_xid)s::text::xid8)
                     OFFSET 0) t ON t.xid = e.xid
         WHERE (e.xid, e.id) > (%(lo_xid)s::text::xid8, %(lo_id)s)
           AND (e.xid, e.id) <= (%(hi_xid)s::text::xid8, %(hi_id)s)
         ORDER BY e.xid, e.id FETCH FIRST %(page)s ROWS WITH TIES) p"""  # noqa: S608 -- the encoding's SQL is made of this package's constants

# Block ends where the sealed size crosses a multiple of the chunk size. The block table may have been
# tampered with: cuts only decide who reads what, and read_leaves keeps those that go forward.
CUTS_SQL = """
SELECT last_xid::text, last_event_id
  FROM (SELECT block_no, last_xid, last_event_id, tree_size / %(chunk)s AS part,
               lag(tree_size / %(chunk)s) OVER (ORDER BY block_no) AS part_before
          FROM pgaudit_kit.block WHERE block_no > %(after_block)s) b
 WHERE part <> part_before
 ORDER BY block_no"""


def default_jobs() -> int:
    return min(2, os.cpu_count() or 1)


def chunks(conn: psycopg.Connection[Any], after: Position, after_block: int,
           chunk: int) -> list[tuple[Position, Position]]:
    """(after, cut], (cut, cut'], ..., (last cut, END]: consecutive ranges of event positions."""
    bounds = [after]
    for row in conn.execute(CUTS_SQL, {"chunk": chunk, "after_block": after_block}):
        cut = (int(row[0]), int(row[1]))
        if cut > bounds[-1]:
            bounds.append(cut)
    bounds.append(END)
    return list(zip(bounds, bounds[1:], strict=False))


def read_page(conn: psycopg.Connection[Any], lo: Position, hi: Position, page: int = PAGE) -> Page | None:
    """The first *page* events after *lo* up to *hi*, or None when there are none."""
    if conn.info.encoding != "utf-8":  # see LEAF_PREFIX_SQL: anything else would give other bytes
        raise KitError("verify reads leaves with client_encoding UTF8, not "
                       f"{conn.info.parameter_status('client_encoding')}")
    # never prepared: each page is planned for its own bounds (a generic plan cannot see they are narrow)
    row = conn.execute(PAGE_SQL, {"lo_xid": lo[0], "lo_id": lo[1], "hi_xid": hi[0], "hi_id": hi[1], "page": page},
                       binary=True, prepare=False).fetchone()
    if row is None or row[1] is None:
        return None
    xids, ids, leaves = row
    if xids and xids[-1] < 0:  # in xid order: wrapped ones (see XID_AS_INT8) come last
        xids = [x + _WRAP if x < 0 else x for x in xids]
    if len(xids) != len(ids) or len(leaves) != HASH_SIZE * len(ids):
        raise KitError(f"verify read a malformed page of {len(ids)} events: {len(xids)} xids, {len(leaves)} bytes")
    return xids, ids, leaves


class _Worker:
    """Reads its chunks in order on one connection into a bounded queue: pages, then None at the end of
    each chunk; an exception, if any, takes the place of the next item."""

    def __init__(self, conn: psycopg.Connection[Any], ranges: Sequence[tuple[Position, Position]],
                 stop: threading.Event) -> None:
        self.conn, self.ranges, self.stop = conn, ranges, stop
        self.out: queue.Queue[Page | BaseException | None] = queue.Queue(maxsize=QUEUED_PAGES)
        self.thread = threading.Thread(target=self._run, name="pgaudit-kit-verify-reader", daemon=True)

    def _put(self, item: Page | BaseException | None) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for lo, hi in self.ranges:
                while (page := read_page(self.conn, lo, hi, PAGE)) is not None:
                    if not self._put(page):
                        return
                    if len(page[1]) < PAGE:
                        break
                    lo = (page[0][-1], page[1][-1])
                if not self._put(None):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)


def read_leaves(conn: psycopg.Connection[Any], connect: db.Connector, snapshot: str | None, after: Position,
                after_block: int, jobs: int = 1, chunk: int | None = None) -> Generator[Page, None, None]:
    """Pages of (xid, id, leaf hash) of the events after *after*, in (xid, id) order, as seen by the
    transaction open on *conn* (REPEATABLE READ, search_path pg_catalog), read by up to *jobs*
    connections in its exported *snapshot*. With one (or no snapshot), *conn* itself reads, in a thread:
    the caller may go on using it meanwhile (psycopg serialises the two)."""
    ranges = chunks(conn, after, after_block, chunk or CHUNK) if jobs > 1 and snapshot else [(after, END)]
    stop = threading.Event()
    with ExitStack() as stack:
        connections = []
        if snapshot and len(ranges) > 1:
            connections = db.snapshot_readers(connect, snapshot, min(jobs, len(ranges)), stack)
            for reader in connections:
                reader.execute("SET LOCAL search_path = pg_catalog")  # the leaf SQL must mean the built-ins
                reader.execute("SET LOCAL client_encoding = 'UTF8'")  # see LEAF_PREFIX_SQL
        if not connections:
            conn.execute("SET LOCAL client_encoding = 'UTF8'")  # see LEAF_PREFIX_SQL
            connections, ranges = [conn], [(after, END)]
        workers = [_Worker(c, ranges[i::len(connections)], stop) for i, c in enumerate(connections)]
        for worker in workers:
            worker.thread.start()
        try:
            for k in range(len(ranges)):
                source = workers[k % len(workers)].out
                while (item := source.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
        finally:
            stop.set()
            for worker in workers:
                worker.thread.join()
