"""Archive bundles: sealed, checkpointed history as files that verify with no database.

A bundle is a folder holding ``manifest.json`` and three files named by the SHA-256 of their bytes
(content-addressed: a file's name says what it must hold):

* ``blocks-<sha256>.jsonl`` -- every sealed block from the first to the archive's end, one JSON object a
  line, with the leaves it sealed (the block's stored columns, bytes in base64);
* ``events-<sha256>.jsonl`` -- every event those blocks sealed, in (xid, id) order, one JSON array a line:
  the xid, then the 22 text fields its leaf is computed from (docs/ENCODING.md §1, ``encoding.EVENT_FIELDS``;
  null for NULL). They are the event and its transaction record, as recorded;
* ``checkpoints-<sha256>.json`` -- the signed checkpoints of the archived prefix (the last of them ends the
  archive: an archive ends where a signed checkpoint does, so each archived event can be proved from the
  bundle alone), and the newest checkpoint when the archive was made with the consistency proof from the
  archive's end to it.

The manifest names the log (origin), the archive's end (tree size, last block) and the three files; the
bundle's digest is the SHA-256 of the manifest's bytes. An archive made after earlier history was retired starts
where that history ends: the manifest's ``start`` is the retired tree's last block and frontier (a signed
checkpoint in the archive gives its root), and ``previous_archive`` the digest of the archive it was retired to.
The check below recomputes every leaf from the event fields, rebuilds the tree and the block chain with the
same code as ``verify`` (verification.py), and compares the roots with the signed checkpoints: an edited
event, block, hash, checkpoint, file or manifest is a finding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import encoding, merkle, signing
from ..core.errors import UsageError
from ..log.event_stream import Page
from ..log.proofs import INCLUSION_FORMAT
from .verification import Block, Finding, Findings, Position, b64, check_checkpoint, check_log, note_size

FORMAT = "pgaudit-kit archive 1"
MANIFEST = "manifest.json"
PARTS = ("blocks", "events", "checkpoints")
PAGE = 10000  # events per page handed to the log check


def _block_to_json(b: Block) -> dict[str, Any]:
    return {"block_no": b.block_no, "first_seq": b.first_seq, "tree_size": b.tree_size, "root": b64(b.root),
            "last_xid": b.last_xid, "last_event_id": b.last_event_id, "last_xid_events": b.last_xid_events,
            "last_xid_sealed": b.last_xid_sealed, "event_ids": b.event_ids, "leaves": b64(b.leaves),
            "prev_hash": b64(b.prev_hash), "block_hash": b64(b.block_hash), "sealed_at_us": b.sealed_at_us}


def _block_from_json(data: dict[str, Any]) -> Block:
    def raw(name: str) -> bytes:
        return base64.b64decode(data[name], validate=True)

    return Block(int(data["block_no"]), int(data["first_seq"]), int(data["tree_size"]), raw("root"),
                 int(data["last_xid"]), int(data["last_event_id"]), int(data["last_xid_events"]),
                 int(data["last_xid_sealed"]), [int(i) for i in data["event_ids"]], raw("leaves"),
                 None if data["prev_hash"] is None else raw("prev_hash"), raw("block_hash"),
                 int(data["sealed_at_us"]))


class _Part:
    """One content-addressed file being written: its lines are hashed as they go."""

    def __init__(self, folder: Path, kind: str) -> None:
        self.kind = kind
        self.path = folder / f"{kind}.partial"
        self.handle = self.path.open("wb")
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha.update(data)
        self.size += len(data)

    def finish(self) -> dict[str, Any]:
        self.handle.close()
        name = f"{self.kind}-{self.sha.hexdigest()}.{'json' if self.kind == 'checkpoints' else 'jsonl'}"
        self.path.rename(self.path.parent / name)
        return {"file": name, "sha256": self.sha.hexdigest(), "bytes": self.size}


def _line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


@dataclass
class Contents:
    """What an archive holds, as read from the database."""

    origin: str
    tree_size: int
    blocks: Iterable[Block]
    events: Iterable[tuple[str, list[str | None]]]  # (xid, the 22 leaf fields)
    checkpoints: list[str]  # signed notes of the archived prefix, the one at tree_size last
    newest: str | None = None  # the newest checkpoint, beyond the archive, and the consistency proof to it
    consistency: list[bytes] = field(default_factory=list)
    start: Position | None = None  # where it starts when earlier history was retired (None: at the log's start)
    previous_archive: str | None = None  # the digest of the archive that earlier history was retired to


def write(out: Path, contents: Contents, created_by: str) -> str:
    """Write a bundle into the new folder *out* (made whole, then renamed into place). Returns its digest."""
    if out.exists():
        raise UsageError(f"{out} exists: an archive goes into a new folder")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent} is not a folder")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files, counts = {}, {"blocks": 0, "events": 0}
        part = _Part(staging, "blocks")
        last_block = -1
        for b in contents.blocks:
            part.write(_line(_block_to_json(b)))
            last_block = b.block_no
            counts["blocks"] += 1
        files["blocks"] = part.finish()
        part = _Part(staging, "events")
        for xid, fields in contents.events:
            part.write(_line([xid, *fields]))
            counts["events"] += 1
        files["events"] = part.finish()
        part = _Part(staging, "checkpoints")
        part.write(json.dumps({"checkpoints": contents.checkpoints, "newest": contents.newest,
                               "consistency": [b64(h) for h in contents.consistency]}, indent=1).encode() + b"\n")
        files["checkpoints"] = part.finish()
        after = {} if contents.start is None else {"start": contents.start.to_json(),
                                                   "previous_archive": contents.previous_archive}
        manifest = json.dumps({"format": FORMAT, "origin": contents.origin, "tree_size": contents.tree_size,
                               "last_block": last_block, **after, **counts, "files": files,
                               "created_by": created_by}, indent=1).encode() + b"\n"
        (staging / MANIFEST).write_bytes(manifest)
        for path in staging.iterdir():
            os.chmod(path, 0o444)  # an archive is not edited in place
        staging.rename(out)
    except BaseException:
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
        raise
    return hashlib.sha256(manifest).hexdigest()


@dataclass
class BundleReport:
    digest: str
    origin: str = ""
    tree_size: int = 0
    blocks_checked: int = 0
    events_checked: int = 0
    checkpoints_checked: int = 0
    start_size: int = 0  # the tree size of history retired before the archive starts
    root: bytes = merkle.EMPTY_ROOT  # the root of the tree at the archive's end, as its leaves give it
    findings: Findings = field(default_factory=Findings)

    def as_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "origin": self.origin, "clean": not self.findings,
                "start_size": self.start_size, "tree_size": self.tree_size, "root": b64(self.root),
                "blocks_checked": self.blocks_checked,
                "events_checked": self.events_checked, "checkpoints_checked": self.checkpoints_checked,
                "finding_counts": dict(self.findings.counts), "findings": [f.as_dict() for f in self.findings.items]}


def _read_part(folder: Path, manifest: dict[str, Any], kind: str, findings: Findings) -> Path | None:
    """A part's path when its name, its manifest entry and its content agree (read once, in blocks: an
    archive of millions of events is not held in memory); otherwise a finding and None."""
    entry = (manifest.get("files") or {}).get(kind)
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or "/" in entry["file"]:
        findings.add(Finding("archive_manifest", f"the manifest lists no {kind} file", object=MANIFEST))
        return None
    path: Path = folder / str(entry["file"])
    sha = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                sha.update(block)
    except OSError as exc:
        findings.add(Finding("archive_file", f"{entry['file']} cannot be read: {exc.strerror}", object=entry["file"]))
        return None
    digest = sha.hexdigest()
    named = entry["file"].split("-", 1)[-1].split(".", 1)[0]
    if digest != entry.get("sha256") or digest != named:
        findings.add(Finding("archive_file", f"{entry['file']} does not hold what the manifest and its name say",
                             object=entry["file"], expected=str(entry.get("sha256")), calculated=digest))
    return path


def _lines(path: Path | None, kind: str, findings: Findings) -> Iterator[Any]:
    if path is None:
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                yield json.loads(line)
            except ValueError:
                findings.add(Finding("archive_malformed", f"{kind} line {number} is not JSON", object=kind))


def _event_pages(path: Path | None, findings: Findings) -> Iterator[Page]:
    """The events file as verification's pages: xids, ids and leaves recomputed from the fields."""
    xids: list[int] = []
    ids: list[int] = []
    leaves: list[bytes] = []
    for number, row in enumerate(_lines(path, "events", findings), start=1):
        try:
            if not isinstance(row, list) or len(row) != 1 + len(encoding.EVENT_FIELDS):
                raise ValueError("not an xid and the event's fields")
            fields = [None if v is None else str(v) for v in row[1:]]
            xids.append(int(row[0]))
            ids.append(int(str(fields[0])))
            leaves.append(merkle.leaf_hash(encoding.event_leaf_input(fields)))
        except (TypeError, ValueError) as exc:
            findings.add(Finding("archive_malformed", f"events line {number}: {exc}", object="events"))
            continue
        if len(ids) == PAGE:
            yield xids, ids, b"".join(leaves)
            xids, ids, leaves = [], [], []
    if ids:
        yield xids, ids, b"".join(leaves)


def _blocks(path: Path | None, findings: Findings) -> Iterator[Block]:
    for number, row in enumerate(_lines(path, "blocks", findings), start=1):
        try:
            yield _block_from_json(row)
        except (KeyError, TypeError, ValueError) as exc:
            findings.add(Finding("archive_malformed", f"blocks line {number}: {exc!r}", object="blocks"))


def _checkpoints(path: Path | None, findings: Findings) -> tuple[list[str], str | None, list[bytes]]:
    """The archived checkpoints' notes, the newest checkpoint's and the consistency proof to it."""
    if path is None:
        return [], None, []
    try:
        document = json.loads(path.read_bytes())
        notes = [str(n) for n in document["checkpoints"]]
        newest = None if document["newest"] is None else str(document["newest"])
        return notes, newest, [base64.b64decode(h, validate=True) for h in document["consistency"]]
    except (KeyError, TypeError, ValueError) as exc:
        findings.add(Finding("archive_malformed", f"checkpoints: {exc!r}", object="checkpoints"))
        return [], None, []


def check(folder: Path, key: signing.VerifierKey) -> BundleReport:
    """Check the bundle in *folder* with no database. Raises UsageError when it is not a bundle at all."""
    try:
        raw_manifest = (folder / MANIFEST).read_bytes()
    except OSError as exc:
        raise UsageError(f"{folder} is not an archive: {MANIFEST} cannot be read ({exc.strerror})") from None
    report = BundleReport(digest=hashlib.sha256(raw_manifest).hexdigest())
    findings = report.findings
    try:
        manifest = json.loads(raw_manifest)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT!r} manifest")
        report.origin, report.tree_size = str(manifest["origin"]), int(manifest["tree_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{folder} is not an archive this version reads: {exc}") from None
    parts = {kind: _read_part(folder, manifest, kind, findings) for kind in PARTS}
    notes, newest, consistency = _checkpoints(parts["checkpoints"], findings)
    wanted = frozenset(size for size in map(note_size, notes) if size is not None)
    start = _start(manifest, findings)
    if start.frontier.size and start.frontier.size not in wanted:
        findings.add(Finding("archive_unsigned", f"no signed checkpoint in the archive covers where it starts "
                             f"({start.frontier.size} events, retired before)", object=MANIFEST))
    result = check_log(_blocks(parts["blocks"], findings), _event_pages(parts["events"], findings),
                       start, findings, wanted=wanted)
    report.blocks_checked, report.events_checked = result.blocks_checked, result.events_checked
    report.start_size, report.root = start.frontier.size, result.end.frontier.root()
    size = result.end.frontier.size
    if size != report.tree_size or result.end.block_no != manifest.get("last_block"):
        findings.add(Finding("archive_size", f"the archive's blocks end at block {result.end.block_no} with "
                             f"{size} events; its manifest says block {manifest.get('last_block')} and "
                             f"{report.tree_size} events", object=MANIFEST, expected=str(report.tree_size),
                             calculated=str(size)))
    if result.unsealed_events:
        findings.add(Finding("archive_size", f"the archive holds {result.unsealed_events} events its blocks did not "
                             "seal", object="events"))
    for number, note in enumerate(notes, start=1):
        check_checkpoint(note, f"{number} of the archive", report.origin, key, result.roots, size, findings)
        report.checkpoints_checked += 1
    if size not in wanted:
        findings.add(Finding("archive_unsigned", f"no signed checkpoint in the archive ends where it does "
                             f"({size} events)", object="checkpoints", seq=size - 1 if size else None))
    if newest is not None:
        _check_newest(newest, consistency, report.origin, key, size, result.end.frontier.root(), findings)
        report.checkpoints_checked += 1
    return report


def _start(manifest: dict[str, Any], findings: Findings) -> Position:
    """Where the archived history starts: after history retired earlier (the manifest's start: the retired
    tree's last block and frontier, whose root a signed checkpoint in the archive must give), or at the log's
    start."""
    if "start" not in manifest:
        return Position()
    try:
        return Position.from_json(manifest["start"])
    except (KeyError, TypeError, ValueError) as exc:
        findings.add(Finding("archive_manifest", f"the manifest's start is malformed: {exc!r}", object=MANIFEST))
        return Position()


def _check_newest(note: str, proof: list[bytes], origin: str, key: signing.VerifierKey, size: int, root: bytes,
                  findings: Findings) -> None:
    """The newest checkpoint when the archive was made: the archived prefix must be a prefix of it."""
    try:
        body = signing.Checkpoint.parse(signing.open_note(note, key))
    except signing.SignatureError as exc:
        findings.add(Finding("checkpoint_signature", f"the newest checkpoint: {exc}", object="checkpoints"))
        return
    if body.origin != origin:
        findings.add(Finding("checkpoint_origin", "the newest checkpoint belongs to another log",
                             object="checkpoints", expected=origin, calculated=body.origin))
        return
    try:
        merkle.verify_consistency(size, body.size, root, body.root, proof)
    except merkle.ProofError as exc:
        findings.add(Finding("archive_consistency", f"the archive is not a prefix of the newest checkpoint "
                             f"({body.size} events): {exc}", object="checkpoints"))


def prove(folder: Path, event_id: int) -> dict[str, Any]:
    """An inclusion proof of an archived event, from the bundle alone, in the form ``prove`` writes (checked
    by ``verify-proof``): its leaf fields, its seq, the path to the first archived checkpoint after it."""
    findings = Findings()
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{folder} is not an archive: {exc}") from None
    parts = {kind: _read_part(folder, manifest, kind, findings) for kind in PARTS}
    if findings or any(data is None for data in parts.values()):
        raise UsageError(f"{folder} fails its own digests; run: pgaudit-kit verify-archive {folder}")
    fields = next((row[1:] for row in _lines(parts["events"], "events", findings)
                   if isinstance(row, list) and len(row) == 1 + len(encoding.EVENT_FIELDS)
                   and str(row[1]) == str(event_id)), None)
    if fields is None:
        raise UsageError(f"event {event_id} is not in the archive {folder}")
    seq = next((b.first_seq + b.event_ids.index(event_id) for b in _blocks(parts["blocks"], findings)
                if event_id in b.event_ids), None)
    start = _start(manifest, findings).frontier
    notes = _checkpoints(parts["checkpoints"], findings)[0]
    covering = sorted((size, note) for note in notes if (size := note_size(note)) is not None
                      and seq is not None and size > seq)
    if seq is None or not covering:
        raise UsageError(f"event {event_id} is in the archive but no archived block and checkpoint seal it")
    size, note = covering[0]
    try:
        proof = merkle.range_roots(merkle.inclusion_ranges(seq, size),
                                   (b.leaves for b in _blocks(parts["blocks"], findings)), start)
    except ValueError as exc:
        raise UsageError(f"event {event_id} cannot be proved from {folder}: {exc}") from None
    return {"format": INCLUSION_FORMAT, "event": dict(zip(encoding.EVENT_FIELDS, fields, strict=True)),
            "seq": seq, "tree_size": size, "proof": [b64(h) for h in proof], "checkpoint": note}
