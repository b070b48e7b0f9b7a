"""archive: write sealed, checkpointed history out of the database as a bundle (bundle.py), then check it.

The archive starts where history retired from the database ends (at the log's start when none was) and ends
at the newest signed checkpoint that lies within ``--through`` (a tree position, or a time: every block it covers
was sealed by then) and at a block's end. Everything is read in one snapshot, and the
read is recorded in the log as a review (it exports audited data).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from .. import __version__
from ..core import encoding, merkle, signing
from ..core.errors import UsageError
from ..log import retirement, sealing
from ..log.proofs import proof_hashes
from ..pg import db, reviews
from . import bundle
from .runner import read_blocks, retired_start
from .verification import Position

Through = int | datetime  # a tree position (the last seq archived) or a time


def _end(conn: psycopg.Connection[Any], through: Through) -> tuple[int, int, str]:
    """(tree size, last block, checkpoint note) of the archive's end."""
    size_bound = through + 1 if isinstance(through, int) else None
    time_bound = None if isinstance(through, int) else through
    row = conn.execute(
        """SELECT c.tree_size, b.block_no, c.note FROM pgaudit_kit.checkpoint c
             JOIN pgaudit_kit.block b ON b.tree_size = c.tree_size
            WHERE c.tree_size > 0
              AND (%(size)s::bigint IS NULL OR c.tree_size <= %(size)s::bigint)
              AND (%(time)s::timestamptz IS NULL
                   OR (SELECT max(s.sealed_at) FROM pgaudit_kit.block s WHERE s.first_seq < c.tree_size)
                      <= %(time)s::timestamptz)
            ORDER BY c.tree_size DESC, c.id LIMIT 1""",
        {"size": size_bound, "time": time_bound}).fetchone()
    if row is None:
        raise UsageError(f"no signed checkpoint ends within --through {through}: nothing to archive "
                         "(run: pgaudit-kit checkpoint --key FILE, after sealing)")
    return int(row[0]), int(row[1]), sealing.stored_note(row[2])


def _start(conn: psycopg.Connection[Any]) -> tuple[Position, str | None]:
    """Where the archive starts: after the history retired already (its last block, and the digest of the archive
    it was retired to), or at the log's start."""
    boundary = retirement.newest(conn)
    if boundary is None:
        return Position(), None
    start = retired_start(conn, boundary)
    if start is None:
        raise retirement.broken(boundary)
    row = conn.execute("SELECT row_data->>'archive_sha256' FROM pgaudit_kit.event WHERE id = %s",
                       (boundary.event_id,)).fetchone()
    return start, None if row is None or row[0] is None else str(row[0])


def _events(conn: psycopg.Connection[Any], start: Position, last_xid: int,
            last_id: int) -> Iterator[tuple[str, list[str | None]]]:
    fields = ", ".join(encoding.EVENT_FIELD_SQL)
    with conn.cursor(name="pgaudit_kit_archive_events") as cur:
        cur.itersize = 5000
        cur.execute(
            f"SELECT e.xid::text, {fields} FROM pgaudit_kit.event e "  # noqa: S608 -- the encoding's constants
            "LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid "
            "WHERE (e.xid, e.id) > (%s::text::xid8, %s) AND (e.xid, e.id) <= (%s::text::xid8, %s) "
            "ORDER BY e.xid, e.id", (start.last_xid, start.last_event_id, last_xid, last_id))
        for row in cur:
            yield str(row[0]), list(row[1:])


def archive(connect: db.Connector, through: Through, out: Path, public_key: Path) -> bundle.BundleReport:
    """Write the bundle into *out* (a new folder) and check it; the report's findings are the check's."""
    key = signing.read_public_key(public_key)
    with connect() as conn, db.translated_errors():  # noqa: SIM117 -- the review needs the connection
        with reviews.reviewed_read(conn, "archive", {"through": str(through), "out": str(out)},
                                   share_snapshot=True):
            conn.execute("SET LOCAL search_path = pg_catalog")  # the encoding's SQL must mean the built-ins
            start, previous = _start(conn)
            size, last_block, note = _end(conn, through)
            if size <= start.frontier.size:
                raise UsageError(f"history through tree size {start.frontier.size} is retired already; no signed "
                                 f"checkpoint after it ends within --through {through}: nothing to archive")
            end = conn.execute("SELECT last_xid::text, last_event_id FROM pgaudit_kit.block WHERE block_no = %s",
                               (last_block,)).fetchone()
            assert end is not None
            notes = [sealing.stored_note(r[0]) for r in conn.execute(
                "SELECT note FROM pgaudit_kit.checkpoint WHERE tree_size <= %s AND tree_size >= %s "
                "ORDER BY tree_size, id", (size, start.frontier.size))]
            notes = [n for n in notes if n != note] + [note]
            newest = conn.execute("SELECT tree_size, note FROM pgaudit_kit.checkpoint "
                                  "ORDER BY tree_size DESC, id DESC LIMIT 1").fetchone()
            proof: list[bytes] = []
            newest_note = None
            if newest is not None and int(newest[0]) > size:
                newest_note = sealing.stored_note(newest[1])
                proof = proof_hashes(conn, merkle.consistency_ranges(size, int(newest[0])), int(newest[0]))
            digest = bundle.write(out, bundle.Contents(
                origin=sealing.origin(conn), tree_size=size, blocks=read_blocks(conn, start.block_no, last_block),
                events=_events(conn, start, int(end[0]), int(end[1])), checkpoints=notes, newest=newest_note,
                consistency=proof, start=start if start.block_no >= 0 else None, previous_archive=previous),
                created_by=f"pgaudit-kit {__version__}")
    report = bundle.check(out, key)
    assert report.digest == digest
    return report
