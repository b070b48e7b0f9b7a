"""`pgaudit-kit verify`: read the sealed log, checkpoints, anchors and catalog; hand them to the pure
checks in verification.py and coverage.py; keep the trusted state."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ..control import lockdown
from ..core import anchors, merkle, signing
from ..core.errors import UsageError
from ..core.progress import Progress
from ..log import leaf_reader, retirement, sealing
from ..pg import db, reviews
from . import coverage
from .verification import (
    MAX_FINDINGS_PER_KIND,
    Block,
    Finding,
    Findings,
    LogResult,
    Position,
    b64,
    block_hash,
    check_checkpoint,
    check_log,
    check_trusted_state,
    note_size,
    prefix_roots,
)


@dataclass
class Report:
    origin: str
    mode: str
    tree_size: int = 0
    blocks_checked: int = 0
    events_checked: int = 0
    unsealed_events: int = 0
    checkpoints_checked: int = 0
    anchored_checked: int = 0
    signatures_checked: bool = False
    state_written: bool = False
    seconds: float = 0.0
    locked_down: bool = False
    retired_through: int = 0  # the tree size retired history ends at (0: nothing retired)
    anchored_retired: int = 0  # anchored checkpoints of retired history: signature and origin checked only
    findings: Findings = field(default_factory=Findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin, "mode": self.mode, "clean": not self.findings, "tree_size": self.tree_size,
            "blocks_checked": self.blocks_checked, "events_checked": self.events_checked,
            "unsealed_events": self.unsealed_events, "checkpoints_checked": self.checkpoints_checked,
            "anchored_checkpoints_checked": self.anchored_checked,
            "anchored_checkpoints_retired": self.anchored_retired, "retired_through": self.retired_through,
            "signatures_checked": self.signatures_checked,
            "state_written": self.state_written, "locked_down": self.locked_down, "seconds": round(self.seconds, 3),
            "finding_counts": dict(self.findings.counts), "findings": [f.as_dict() for f in self.findings.items],
        }


def _load_state(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        Position.from_json(data)
        return data
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"trusted state {path} is unreadable: {exc}") from exc


def _write_state(path: Path, origin: str, position: Position) -> None:
    data = {"format": "pgaudit-kit-state/1", "origin": origin, **position.to_json(), "verified_at": time.time()}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


# A block's sealed_at in microseconds, exact (numeric: one beyond bigint, from 294247 AD, stays exact); an
# infinite one (only a superuser's edit stores it) as the extreme bigint, whose block hash then cannot match:
# a finding, never an error.
SEALED_AT_US = ("CASE WHEN isfinite(sealed_at) THEN round(EXTRACT(epoch FROM sealed_at) * 1000000) "
                "WHEN sealed_at > 'epoch'::timestamptz THEN 9223372036854775807 ELSE -9223372036854775808 END")
# Whether a block's event_ids is other than the one-dimensional array from 1 the kit writes.
EVENT_IDS_MALFORMED = "COALESCE(array_ndims(event_ids) > 1 OR array_lower(event_ids, 1) <> 1, false)"


# A block's hashed fields, as read by verify. The table's constraints keep NULL out of them, but whoever drops a
# constraint can store one: a NULL reads as a value the sealer never writes (-1, no bytes), so the block is a
# finding (its hash, root or chain), never an error.
BLOCK_FIELDS = ("block_no, COALESCE(first_seq, -1), COALESCE(tree_size, -1), COALESCE(root, ''), "
                "COALESCE(last_xid::text, '0'), COALESCE(last_event_id, -1), COALESCE(last_xid_events, -1), "
                f"COALESCE(last_xid_sealed, -1), prev_hash, COALESCE(block_hash, ''), {SEALED_AT_US}")


def _block(row: Any, event_ids: list[int], leaves: bytes, event_ids_malformed: bool = False) -> Block:
    """A Block from a row that starts with BLOCK_FIELDS."""
    return Block(int(row[0]), int(row[1]), int(row[2]), bytes(row[3]), int(row[4]), int(row[5]), int(row[6]),
                 int(row[7]), event_ids, leaves, None if row[8] is None else bytes(row[8]), bytes(row[9]),
                 int(row[10]), event_ids_malformed=event_ids_malformed)


def _flat(items: list[Any]) -> list[Any]:
    """A multidimensional array's elements in storage order (psycopg gives nested lists)."""
    return [x for item in items for x in (_flat(item) if isinstance(item, list) else [item])]


def read_blocks(conn: psycopg.Connection[Any], after: int, through: int | None = None) -> Iterator[Block]:
    """The stored blocks after block *after* (up to block *through*), in order, read 20 at a time."""
    with conn.cursor(name="pgaudit_kit_verify_blocks", binary=True) as cur:
        cur.itersize = 20
        cur.execute(
            f"""SELECT {BLOCK_FIELDS}, COALESCE(event_ids, '{{}}'), COALESCE(leaves, ''), {EVENT_IDS_MALFORMED}
                  FROM pgaudit_kit.block WHERE block_no > %s AND block_no <= COALESCE(%s, block_no)
                 ORDER BY block_no""", (after, through))  # noqa: S608 -- constant SQL
        for row in cur:
            event_ids = _flat(row[11]) if row[13] else list(row[11])
            yield _block(row, event_ids, bytes(row[12]), event_ids_malformed=bool(row[13]))


def _state_size(state: dict[str, Any]) -> int | None:
    try:
        return int(state["tree_size"])
    except (KeyError, TypeError, ValueError):
        return None


def _prefix_roots(conn: psycopg.Connection[Any], start: Position, wanted: frozenset[int],
                  base: Position) -> dict[int, bytes] | None:
    """Roots at the *wanted* sizes inside the prefix an earlier run verified (from *base*, where retired history
    ends, up to *start*), from the stored blocks (see verification.prefix_roots); None when that prefix was
    rewritten."""
    chain = [_block(r, [], b"") for r in conn.execute(
        f"SELECT {BLOCK_FIELDS} FROM pgaudit_kit.block WHERE block_no BETWEEN %s AND %s ORDER BY block_no",  # noqa: S608
        (max(base.block_no, 0), start.block_no))]
    sizes = [size for size in wanted if base.frontier.size < size < start.frontier.size]
    inside_blocks = {b.block_no for size in sizes for b in chain if b.first_seq < size < b.tree_size}
    inside: dict[int, tuple[merkle.Frontier, bytes]] = {}
    for block_no in sorted(inside_blocks):
        row = conn.execute(
            "SELECT b.leaves, p.tree_size, p.frontier FROM pgaudit_kit.block b "
            "LEFT JOIN pgaudit_kit.block p ON p.block_no = b.block_no - 1 WHERE b.block_no = %s",
            (block_no,)).fetchone()
        if row is None or (row[1] is not None and (row[2] is None or any(p is None for p in row[2]))):
            return None  # a stored frontier that cannot be one: the prefix was rewritten (a full run names it)
        before = merkle.Frontier(int(row[1]), [bytes(p) for p in row[2]]) if row[1] is not None else merkle.Frontier()
        inside[block_no] = (before, bytes(row[0]))
    return prefix_roots(chain, start.block_hash, sizes, inside, base.block_hash if base.block_no >= 0 else None)


def retired_start(conn: psycopg.Connection[Any], boundary: retirement.Boundary) -> Position | None:
    """The position retired history ends at: the block the retirement named, as it was (its hash, fields and
    frontier agree), else None."""
    block = next(read_blocks(conn, boundary.block_no - 1, boundary.block_no), None)
    peaks = retirement.frontier(conn, boundary)
    if block is None or peaks is None or block_hash(block) != block.block_hash or block.event_ids_malformed:
        return None
    return Position(block.block_no, block.block_hash, block.last_xid, block.last_event_id, peaks,
                    block.last_xid_events, block.last_xid_sealed)


def _retired_base(conn: psycopg.Connection[Any], findings: Findings) -> Position:
    """Where the log in the database starts: the end of the newest retirement the log records (its last block,
    as it was then: hash, root and frontier), or the empty log. A boundary that no longer is what the retirement
    named is a finding, and the log is then checked from the start, so that whatever is missing is named. An
    event still stored inside retired history was added after the retirement: a finding too."""
    boundary = retirement.newest(conn)
    if boundary is None:
        return Position()
    base = retired_start(conn, boundary)
    if base is None:
        findings.add(Finding("retirement_boundary", f"block {boundary.block_no}, where the history retired by event "
                             f"{boundary.event_id} ends, is gone or is not the block that was retired",
                             block_no=boundary.block_no, event_id=boundary.event_id,
                             expected=b64(boundary.block_hash)))
        return Position()
    _check_retirement_record(conn, boundary, findings)
    for (event_id,) in conn.execute(
            "SELECT id FROM pgaudit_kit.event WHERE (xid, id) <= (%s::text::xid8, %s) ORDER BY id LIMIT %s",
            (base.last_xid, base.last_event_id, MAX_FINDINGS_PER_KIND + 1)):
        findings.add(Finding("event_inserted", f"event {event_id} lies in history retired by event "
                             f"{boundary.event_id}, yet it is stored: it was added after the retirement",
                             event_id=int(event_id), block_no=base.block_no))
    return base


def _check_retirement_record(conn: psycopg.Connection[Any], boundary: retirement.Boundary,
                             findings: Findings) -> None:
    """The retirement the log records must be one the database let through: pgaudit_kit.retire wrote a row of
    pgaudit_kit.retirement in the same transaction, and every block it retired was sealed longer ago than the
    longest retention period set before it. A retire event written past the guards (to pass a deletion off as
    a retirement) lacks the one or breaks the other."""
    row = conn.execute(
        """SELECT EXISTS (SELECT FROM pgaudit_kit.retirement r
                           WHERE r.xid = e.xid AND r.tree_size = %(size)s AND r.block_hash = %(hash)s),
                  COALESCE((SELECT max(b.sealed_at) FROM pgaudit_kit.block b WHERE b.block_no <= %(block)s)
                           > e.statement_ts - (SELECT max(p.min_age) FROM pgaudit_kit.retention p
                                                WHERE p.set_at <= e.statement_ts), true)
             FROM pgaudit_kit.event e WHERE e.id = %(event)s""",
        {"size": boundary.tree_size, "hash": boundary.block_hash, "block": boundary.block_no,
         "event": boundary.event_id}).fetchone()
    if row is None:
        return
    if not row[0]:
        findings.add(Finding("retirement_unrecorded", f"the retirement recorded by event {boundary.event_id} was "
                             "not made by pgaudit_kit.retire (no row of pgaudit_kit.retirement matches it): history "
                             "was removed past the guards", event_id=boundary.event_id, block_no=boundary.block_no))
    if row[1]:
        findings.add(Finding("retirement_early", f"the retirement recorded by event {boundary.event_id} removed "
                             "history sealed within the retention period in force, or with none set",
                             event_id=boundary.event_id, block_no=boundary.block_no))


def _trusted_start(conn: psycopg.Connection[Any], trusted: Position, base: Position, state: dict[str, Any],
                   report: Report) -> Position:
    """Where an incremental run starts: the end of the trusted state when the database still holds it as it was
    verified, else *base* (the whole remaining log is checked, to name what changed)."""
    stored = conn.execute("SELECT block_hash FROM pgaudit_kit.block WHERE block_no = %s",
                          (trusted.block_no,)).fetchone()
    sealed_between = conn.execute(
        "SELECT count(*) FROM pgaudit_kit.event WHERE (xid, id) <= (%s::text::xid8, %s) "
        "AND (xid, id) > (%s::text::xid8, %s)",
        (trusted.last_xid, trusted.last_event_id, base.last_xid, base.last_event_id)).fetchone()
    if trusted.block_no >= 0 and (stored is None or b64(bytes(stored[0])) != state["block_hash"]):
        report.findings.add(Finding("state_root", f"block {trusted.block_no}, where the trusted state ends, was "
                                    "removed or rewritten since it was verified", block_no=trusted.block_no,
                                    expected=state["block_hash"],
                                    calculated=None if stored is None else b64(bytes(stored[0]))))
        report.mode = "full"
        return base
    if sealed_between is None or int(sealed_between[0]) != trusted.frontier.size - base.frontier.size:
        # events were deleted or added inside verified history: re-check all of it to name them
        report.mode = "full"
        return base
    return trusted


def verify(connect: db.Connector, *, anchor_dir: Path | None = None, public_key: Path | None = None,
           state_path: Path | None = None, full: bool = False, jobs: int | None = None,
           lockdown_on_failure: bool = False) -> Report:
    """Run every check; returns the report (findings empty when clean). Raises KitError for usage/environment.

    *jobs*: connections that recompute leaves side by side (default: one per CPU core, at most 2).
    *lockdown_on_failure*: on any finding, also lock down audited writes (needs the admin role; recorded
    with the findings' counts as the reason); Report.locked_down says whether this run locked them."""
    key = signing.read_public_key(public_key) if public_key else None
    if state_path is not None and not state_path.parent.is_dir():  # before the work, not after it
        raise UsageError(f"--state: {state_path.parent} is not a folder; create it first")
    state = _load_state(state_path)
    started = time.monotonic()
    with connect() as conn, db.translated_errors():
        with reviews.reviewed_read(conn, "verify", {
                "full": full, "state": str(state_path) if state_path else None,
                "anchor_dir": str(anchor_dir) if anchor_dir else None,
                "public_key": str(public_key) if public_key else None},
                share_snapshot=True,  # one snapshot for everything read below, by every connection
                tolerate_not_stored=True,  # tampering with the event table: verify must still report it
        ) as review:
            conn.execute("SET LOCAL search_path = pg_catalog")  # the checks' SQL must mean the built-ins
            origin = sealing.origin(conn)
            report = Report(origin=origin, mode="full" if full or state is None else "incremental",
                            signatures_checked=key is not None)
            findings = report.findings
            if review.not_stored:
                findings.add(Finding("coverage_guard", review.not_stored, object="pgaudit_kit.event"))
            base = _retired_base(conn, findings)  # where the log starts: Position() unless history was retired
            report.retired_through = base.frontier.size
            start = base
            earlier_origins = _earlier_origins(conn, origin)
            if state is not None and not full and (state.get("origin") == origin
                                                   or state.get("origin") in earlier_origins):
                trusted = Position.from_json(state)
                if trusted.frontier.size <= base.frontier.size:
                    report.mode = "full"  # it ends in retired history: all that remains is checked
                else:
                    start = _trusted_start(conn, trusted, base, state, report)
            # Every checkpoint, and the trusted state, is checked against the root at its own size.
            stored_checkpoints = [(cid, sealing.stored_note(note)) for cid, note in conn.execute(
                "SELECT id, note FROM pgaudit_kit.checkpoint ORDER BY id")]
            anchored = _anchored(anchor_dir, origin, findings, earlier_origins) if anchor_dir is not None else []
            wanted = frozenset(size for size in [note_size(note) for _, note in stored_checkpoints]
                               + [note_size(a.note) for a in anchored]
                               + ([_state_size(state)] if state is not None else []) if size is not None)
            earlier: dict[int, bytes] = {}
            if start.block_no > base.block_no and any(size < start.frontier.size for size in wanted):
                found = _prefix_roots(conn, start, wanted, base)
                if found is None:  # the verified prefix no longer is what was verified: re-check all of it
                    report.mode = "full"
                    start = base
                else:
                    earlier = found
            leaves = leaf_reader.read_leaves(conn, connect, review.snapshot, (start.last_xid, start.last_event_id),
                                             start.block_no, jobs or leaf_reader.default_jobs())
            # on an error, stop the readers before the connection is used again
            with closing(leaves), Progress() as progress:
                result: LogResult = check_log(
                    read_blocks(conn, start.block_no), leaves, start, findings,
                    lambda done: progress.show(f"verified {done:,} events ({progress.rate(done):,.0f}/s)"), wanted)
            result.roots = {**earlier, **result.roots}
            report.tree_size = result.end.frontier.size
            report.blocks_checked, report.events_checked = result.blocks_checked, result.events_checked
            report.unsealed_events = result.unsealed_events
            if state is not None:
                check_trusted_state(state, origin, result.roots, report.tree_size, findings, earlier_origins,
                                    retired_size=base.frontier.size)
            stored_notes = {note for _, note in stored_checkpoints}
            for cid, note in stored_checkpoints:
                check_checkpoint(note, f"#{cid} in the database", origin, key, result.roots, report.tree_size,
                                 findings, earlier_origins, retired_size=base.frontier.size)
                report.checkpoints_checked += 1
            for note_file in anchored:
                genuine = check_checkpoint(note_file.note, str(note_file.path), origin, key, result.roots,
                                           report.tree_size, findings, earlier_origins,
                                           retired_size=base.frontier.size)
                if genuine and (note_size(note_file.note) or 0) < base.frontier.size:
                    report.anchored_retired += 1
                    continue  # its root is the retired tree's: its archive proves it (verify-archive)
                if genuine and note_file.note not in stored_notes:
                    findings.add(Finding("checkpoint_missing", f"anchored checkpoint {note_file.path} is not in "
                                         "the database: its row was deleted", object=str(note_file.path)))
                report.anchored_checked += 1
            coverage.check(conn, findings, base.last_xid)
        # The outcome too goes into the log (doctor reports the time since the last clean run). It is what
        # this run saw, recorded by its role; the log itself is what proves anything.
        if not review.not_stored:
            reviews.record_review(conn, "verify-result", {
                "clean": not findings, "mode": report.mode, "tree_size": result.end.frontier.size,
                "finding_counts": dict(findings.counts)})
    report.seconds = time.monotonic() - started
    if state_path is not None and not findings:
        _write_state(state_path, origin, result.end)
        report.state_written = True
    if lockdown_on_failure and findings:
        kinds = ", ".join(sorted(findings.counts))
        reason = f"verify found {sum(findings.counts.values())} findings ({kinds})"
        with connect() as conn:
            report.locked_down = lockdown.set_locked(conn, True, reason)
    return report


def _earlier_origins(conn: psycopg.Connection[Any], origin: str) -> frozenset[str]:
    """Origins this log recorded changing from (control events ``origin_change``, which `install` writes
    after a restore into another database or cluster), following the chain back from *origin*.

    Accepting an origin never hides an edit: its checkpoints are still compared with this log's roots, so a
    forged change only turns another database's checkpoints from checkpoint_origin into checkpoint_root or
    checkpoint_beyond_log findings, and the change itself is an event of the log, sealed like the rest."""
    changes = {str(to): str(frm) for frm, to in conn.execute(
        "SELECT e.row_data->>'from', e.row_data->>'to' FROM pgaudit_kit.event e "
        "WHERE e.op = 'K' AND e.row_data->>'action' = 'origin_change' "
        "AND e.row_data->>'from' IS NOT NULL AND e.row_data->>'to' IS NOT NULL ORDER BY e.id")}
    found: set[str] = set()
    current = origin
    while current in changes and changes[current] not in found and changes[current] != origin:
        current = changes[current]
        found.add(current)
    return frozenset(found)


def _anchored(anchor_dir: Path, origin: str, findings: Findings,
              earlier_origins: frozenset[str] = frozenset()) -> list[anchors.AnchoredNote]:
    """This origin's anchored notes (and those of the origins it was restored from), plus those of earlier
    installations of the kit in the same database (same cluster and database, other install id): after an
    uninstall and re-install their checkpoints no longer match anything, and that must be reported rather
    than ignored."""
    notes = anchors.read(anchor_dir, origin)
    for earlier in sorted(earlier_origins):
        notes += anchors.read(anchor_dir, earlier)
    folder = anchors.origin_dir(anchor_dir, origin)
    origin_file = folder / "ORIGIN"
    if origin_file.exists() and origin_file.read_text() != origin + "\n":
        findings.add(Finding("anchor_origin", f"{folder} is labelled for another origin", object=str(folder)))
    same_database = origin.rsplit("/", 1)[0] + "/"
    for other in sorted(anchor_dir.glob("*/ORIGIN")):
        label = other.read_text().strip()
        if label != origin and label.startswith(same_database):
            notes += anchors.read(anchor_dir, label)
    return notes
