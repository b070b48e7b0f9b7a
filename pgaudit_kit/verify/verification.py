"""Verification logic: fed rows, returns findings. No database access here (see verify.py for that).

The sealed log is checked block by block: every event's leaf, recomputed from its stored columns (on the
server, by built-in functions only: see leaf_reader.py), is compared with the leaf sealed for its seq;
the leaves rebuild the tree, whose size and root must match the block; each block's hash must match its
fields and chain to the previous block. Signed checkpoints (in the database and anchored outside it)
must name this database and match the rebuilt roots, and a trusted state kept by the verifier must not
be ahead of, or disagree with, the database.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core import encoding, merkle, signing
from ..core.errors import UsageError
from ..log.event_stream import EventStream, Page

MAX_FINDINGS_PER_KIND = 100


@dataclass
class Finding:
    kind: str
    message: str
    seq: int | None = None
    event_id: int | None = None
    block_no: int | None = None
    object: str | None = None
    expected: str | None = None
    calculated: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Findings:
    """Findings with a per-kind cap, so a truncated table of millions of events stays readable."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self.counts: Counter[str] = Counter()

    def add(self, finding: Finding) -> None:
        self.counts[finding.kind] += 1
        if self.counts[finding.kind] <= MAX_FINDINGS_PER_KIND:
            self.items.append(finding)

    def __bool__(self) -> bool:
        return bool(self.counts)


def b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


@dataclass
class Block:
    block_no: int
    first_seq: int
    tree_size: int
    root: bytes
    last_xid: int
    last_event_id: int
    last_xid_events: int
    last_xid_sealed: int
    event_ids: list[int]
    leaves: bytes
    prev_hash: bytes | None
    block_hash: bytes
    sealed_at_us: int
    event_ids_malformed: bool = False  # event_ids was not one-dimensional from 1 (event_ids holds its elements)


@dataclass
class Position:
    """Where a verified prefix of the log ends: the last block checked and the tree up to it."""

    block_no: int = -1
    block_hash: bytes | None = None
    last_xid: int = 0
    last_event_id: int = 0
    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
    last_xid_events: int = 0
    last_xid_sealed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"block_no": self.block_no, "block_hash": b64(self.block_hash), "last_xid": self.last_xid,
                "last_event_id": self.last_event_id, "last_xid_events": self.last_xid_events,
                "last_xid_sealed": self.last_xid_sealed, "tree_size": self.frontier.size,
                "root": b64(self.frontier.root()), "frontier": [b64(p) for p in self.frontier.peaks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Position:
        frontier = merkle.Frontier(int(data["tree_size"]), [base64.b64decode(p) for p in data["frontier"]])
        if b64(frontier.root()) != data["root"]:
            raise ValueError("trusted state is inconsistent: its frontier does not give its root")
        return cls(int(data["block_no"]), base64.b64decode(data["block_hash"]) if data["block_hash"] else None,
                   int(data["last_xid"]), int(data["last_event_id"]), frontier, int(data["last_xid_events"]),
                   int(data["last_xid_sealed"]))


@dataclass
class LogResult:
    end: Position
    roots: dict[int, bytes]
    events_checked: int = 0
    blocks_checked: int = 0
    unsealed_events: int = 0


def block_hash(b: Block) -> bytes:
    return hashlib.sha256(encoding.block_hash_input(
        b.block_no, b.first_seq, b.tree_size, b.root, b.last_xid, b.last_event_id, b.last_xid_events,
        b.last_xid_sealed, b.prev_hash, b.sealed_at_us,
    )).digest()


def _grow(frontier: merkle.Frontier, leaves: bytes, wanted: frozenset[int], roots: dict[int, bytes]) -> None:
    """Append *leaves* (concatenated hashes) to *frontier*, noting in *roots* the root at each size in *wanted*
    it passes: checkpoints and the trusted state are checked at their own size, wherever it falls."""
    end = frontier.size + len(leaves) // merkle.HASH_SIZE
    done = 0
    for size in sorted(s for s in wanted if frontier.size < s <= end):
        cut = (size - frontier.size) * merkle.HASH_SIZE
        frontier.extend(leaves[done:done + cut] if cut else b"")
        done += cut
        roots[size] = frontier.root()
    frontier.extend(leaves[done:])


def check_log(blocks: Iterable[Block], events: Iterable[Page], start: Position,
              findings: Findings, progress: Callable[[int], None] | None = None,
              wanted: frozenset[int] = frozenset()) -> LogResult:
    """Check *blocks* (after *start*) against *events*: the events after *start* in (xid, id) order, in
    pages of their xids, ids and recomputed leaf hashes (concatenated). The result holds the root at every
    block's end and at each size in *wanted* (those of checkpoints and the trusted state) the log reaches."""
    frontier = start.frontier.copy()
    result = LogResult(end=start, roots={frontier.size: frontier.root()})
    prev_hash, expected_no = start.block_hash, start.block_no + 1
    last_xid, last_id = start.last_xid, start.last_event_id
    xid_events, xid_sealed = start.last_xid_events, start.last_xid_sealed
    stream = EventStream(events)
    for b in blocks:
        if b.block_no != expected_no:
            findings.add(Finding("block_sequence", f"block {expected_no} is missing: next block is {b.block_no}",
                                 block_no=b.block_no, expected=str(expected_no), calculated=str(b.block_no)))
        if b.first_seq != frontier.size:
            findings.add(Finding("block_first_seq", f"block {b.block_no} starts at seq {b.first_seq}, "
                                 f"but the log before it holds {frontier.size} events", block_no=b.block_no,
                                 seq=b.first_seq, expected=str(frontier.size), calculated=str(b.first_seq)))
        if b.prev_hash != prev_hash:
            findings.add(Finding("block_chain", f"block {b.block_no} does not chain to the block before it",
                                 block_no=b.block_no, expected=b64(prev_hash), calculated=b64(b.prev_hash)))
        calculated_hash = block_hash(b)
        if calculated_hash != b.block_hash:
            findings.add(Finding("block_hash", f"block {b.block_no}'s fields do not match its hash",
                                 block_no=b.block_no, expected=b64(b.block_hash), calculated=b64(calculated_hash)))
        if b.event_ids_malformed:
            findings.add(Finding("block_malformed", f"block {b.block_no}'s event ids are not a one-dimensional "
                                 "array from 1, as sealing writes them", block_no=b.block_no))
        end = (b.last_xid, b.last_event_id)
        if stream.take_block(b.event_ids, b.leaves, end):
            _grow(frontier, b.leaves, wanted, result.roots)
            result.events_checked += len(b.event_ids)
        else:
            _check_block_events(b, stream, frontier, findings, result, wanted)
        if frontier.size != b.tree_size:
            findings.add(Finding("block_size", f"block {b.block_no} claims tree size {b.tree_size}, its leaves "
                                 f"give {frontier.size}", block_no=b.block_no, expected=str(b.tree_size),
                                 calculated=str(frontier.size)))
        root = frontier.root()
        if root != b.root:
            findings.add(Finding("block_root", f"block {b.block_no}'s root does not match its leaves",
                                 block_no=b.block_no, expected=b64(b.root), calculated=b64(root)))
        result.roots[frontier.size] = root
        prev_hash, expected_no = b.block_hash, b.block_no + 1
        last_xid, last_id = b.last_xid, b.last_event_id
        xid_events, xid_sealed = b.last_xid_events, b.last_xid_sealed
        result.blocks_checked += 1
        if progress:
            progress(result.events_checked)
    # After the log: events waiting to be sealed, except that a sealed transaction had a fixed number of
    # events when it was first sealed; any beyond that number were added to it afterwards.
    still_to_seal = xid_events - xid_sealed
    while (pending := stream.pop()) is not None:
        if pending[0] == last_xid and still_to_seal > 0:
            still_to_seal -= 1
            result.unsealed_events += 1
        elif pending[0] <= last_xid:
            findings.add(Finding("event_inserted", f"event {pending[1]} belongs to transaction {pending[0]}, which "
                                 f"had {xid_events} events when it was sealed: it was added afterwards",
                                 event_id=pending[1], block_no=expected_no - 1))
        else:
            result.unsealed_events += 1
    result.end = Position(expected_no - 1, prev_hash, last_xid, last_id, frontier, xid_events, xid_sealed)
    return result


def _check_block_events(b: Block, stream: EventStream, frontier: merkle.Frontier, findings: Findings,
                        result: LogResult, wanted: frozenset[int]) -> None:
    """The events a block sealed, one by one: they are the stream's events up to its last (xid, id).
    While the stream follows the block's order they are taken one by one; at the first surprise the rest
    of the block's range is collected by id, so that missing, extra and reordered events are all named."""
    end = (b.last_xid, b.last_event_id)
    batch: dict[int, bytes] | None = None
    if len(b.leaves) != merkle.HASH_SIZE * len(b.event_ids):
        findings.add(Finding("block_malformed", f"block {b.block_no} lists {len(b.event_ids)} events but holds "
                             f"{len(b.leaves)} bytes of leaves", block_no=b.block_no))
    # Entry i is the i-th event id and the i-th 32 bytes of leaves (fewer, or none, when leaves is short:
    # docs/ENCODING.md §3), each checked and appended to the tree as stored.
    for i, event_id in enumerate(b.event_ids):
        stored = b.leaves[i * merkle.HASH_SIZE:(i + 1) * merkle.HASH_SIZE]
        seq = b.first_seq + i
        leaf: bytes | None
        pending = stream.peek()
        if batch is None and pending is not None and pending[1] == event_id and (pending[0], pending[1]) <= end:
            leaf = pending[2]
            stream.pop()
        else:
            if batch is None:
                batch = _rest_of_range(stream, end)
            leaf = batch.pop(event_id, None)
        if leaf is None:
            findings.add(Finding("event_missing", f"event {event_id} (seq {seq}) was sealed but is gone",
                                 seq=seq, event_id=event_id, block_no=b.block_no, expected=b64(stored)))
        elif leaf != stored:
            findings.add(Finding("event_modified", f"event {event_id} (seq {seq}) or its transaction "
                                 "record differs from what was sealed", seq=seq, event_id=event_id,
                                 block_no=b.block_no, expected=b64(stored), calculated=b64(leaf)))
        frontier.append(stored)  # as sealed, whatever its length: a malformed block is reported above
        if frontier.size in wanted:
            result.roots[frontier.size] = frontier.root()
        result.events_checked += 1
    if batch is None:
        batch = _rest_of_range(stream, end)
    for event_id in sorted(batch):
        findings.add(Finding("event_inserted", f"event {event_id} lies inside sealed block {b.block_no} but was "
                             "never sealed: it was added afterwards", event_id=event_id, block_no=b.block_no))


def prefix_roots(chain: Sequence[Block], end_hash: bytes | None, wanted: Iterable[int],
                 inside: Mapping[int, tuple[merkle.Frontier, bytes]],
                 base_hash: bytes | None = None) -> dict[int, bytes] | None:
    """Roots at sizes inside a prefix of the log verified by an earlier run, without re-reading its events.

    *chain*: blocks 0..n as stored now (event ids and leaves not needed), whose last block's hash must be
    *end_hash*, the one the trusted state recorded: then the chain of block hashes commits to every block's
    tree size and root. After a retirement the chain starts at the retired history's last block instead, whose
    hash must be *base_hash*. A size that is not a block end lies inside some block k: *inside[k]* holds the
    stored frontier of block k-1 and the stored leaves of block k, which must give block k's committed root (else
    they were rewritten); the root at the size is that frontier extended by the leaves up to it.

    Returns None when the chain or a block's stored frontier and leaves no longer match what is committed:
    the verified prefix was rewritten, and only a full run can say how."""
    previous: Block | None = None
    for b in chain:
        if previous is None and base_hash is not None:
            if block_hash(b) != b.block_hash or b.block_hash != base_hash:
                return None
        elif (b.block_no != (previous.block_no + 1 if previous else 0) or block_hash(b) != b.block_hash
                or b.prev_hash != (previous.block_hash if previous else None)):
            return None
        previous = b
    if (previous.block_hash if previous else None) != end_hash:
        return None
    by_no = {b.block_no: b for b in chain}
    roots = {b.tree_size: b.root for b in chain}
    if base_hash is None:
        roots[0] = merkle.Frontier().root()
    for size in sorted(set(wanted) - set(roots)):
        k = next((b.block_no for b in chain if b.first_seq < size < b.tree_size), None)
        if k is None or (base_hash is not None and k == chain[0].block_no):
            continue  # beyond the prefix (the log check computes it), or in retired history
        b, (before, leaves) = by_no[k], inside[k]
        committed_before = by_no[k - 1].root if k else merkle.Frontier().root()
        grown = before.copy()
        if before.size != b.first_seq or before.root() != committed_before or len(leaves) % merkle.HASH_SIZE:
            return None
        grown.extend(leaves)
        if grown.size != b.tree_size or grown.root() != b.root:
            return None
        partial = before.copy()
        partial.extend(leaves[:(size - b.first_seq) * merkle.HASH_SIZE])
        roots[size] = partial.root()
    return roots


def _rest_of_range(stream: EventStream, end: tuple[int, int]) -> dict[int, bytes]:
    """The stream's leaves by event id up to (xid, id) *end*."""
    rest = {}
    while (pending := stream.peek()) is not None and (pending[0], pending[1]) <= end:
        rest[pending[1]] = pending[2]
        stream.pop()
    return rest


def note_size(note: str) -> int | None:
    """The tree size a checkpoint claims (its signature and origin are checked later), None if unreadable."""
    try:
        return signing.Checkpoint.parse(signing.open_note(note, None)).size
    except (signing.SignatureError, UsageError, ValueError):
        return None


def check_checkpoint(note: str, source: str, origin: str, key: signing.VerifierKey | None, roots: dict[int, bytes],
                     log_size: int, findings: Findings, earlier_origins: frozenset[str] = frozenset(),
                     retired_size: int = 0) -> bool:
    """One signed checkpoint against this database's origin, key and rebuilt roots. A checkpoint of an origin
    this log recorded changing from (*earlier_origins*: a restore into another database or cluster) is
    this log's too, and is compared with its roots like the others. One of a tree smaller than *retired_size*
    (history retired from the database, whose archive proves it) is checked for its signature and origin only.

    Returns whether it is a genuine checkpoint of this log (signature and origin), whatever it says."""
    try:
        body = signing.Checkpoint.parse(signing.open_note(note, key))
    except signing.SignatureError as exc:
        findings.add(Finding("checkpoint_signature", f"checkpoint {source}: {exc}", object=source))
        return False
    if body.origin != origin and body.origin not in earlier_origins:
        findings.add(Finding("checkpoint_origin", f"checkpoint {source} belongs to another database or an earlier "
                             "installation", object=source, expected=origin, calculated=body.origin))
        return False
    if body.size > log_size:
        findings.add(Finding("checkpoint_beyond_log", f"checkpoint {source} covers {body.size} events but the "
                             f"database's sealed log holds {log_size}: history was truncated or an older backup "
                             "was restored", object=source, seq=body.size - 1, expected=str(body.size),
                             calculated=str(log_size)))
        return True
    if body.size < retired_size:
        return True
    root = roots.get(body.size)
    if root is None:
        findings.add(Finding("checkpoint_unchecked", f"checkpoint {source} covers {body.size} events, and the root "
                             "of the log at that size could not be computed: it is not verified", object=source,
                             seq=body.size - 1, expected=b64(body.root)))
    elif root != body.root:
        findings.add(Finding("checkpoint_root", f"checkpoint {source}: the log's first {body.size} events were "
                             "rewritten since it was signed", object=source, seq=body.size - 1,
                             expected=b64(body.root), calculated=b64(root)))
    return True


def check_trusted_state(state: dict[str, Any], origin: str, roots: dict[int, bytes], log_size: int,
                        findings: Findings, earlier_origins: frozenset[str] = frozenset(),
                        retired_size: int = 0) -> None:
    """The trusted state against the rebuilt roots; one that ends inside retired history (smaller than
    *retired_size*) has no root left to compare with: its archive holds that history."""
    if state.get("origin") != origin and state.get("origin") not in earlier_origins:
        findings.add(Finding("state_origin", "the trusted state belongs to another database or installation",
                             expected=str(state.get("origin")), calculated=origin))
        return
    size = int(state["tree_size"])
    if size > log_size:
        findings.add(Finding("state_rollback", f"the trusted state has seen {size} sealed events, the database now "
                             f"has {log_size}: it went backwards (truncated, or restored from an older backup)",
                             seq=size - 1, expected=str(size), calculated=str(log_size)))
        return
    if size < retired_size:
        return
    root = roots.get(size)
    if root is None:
        findings.add(Finding("state_unchecked", f"the root of the log at the trusted state's size {size} could not "
                             "be computed: the trusted state is not verified", seq=size - 1, expected=state["root"]))
    elif b64(root) != state["root"]:
        findings.add(Finding("state_root", f"the log's first {size} events differ from when they were last verified",
                             seq=size - 1, expected=state["root"], calculated=b64(root)))
