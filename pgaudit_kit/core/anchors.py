"""The anchor store: an append-only directory of signed checkpoints kept outside the database.

Layout: ``<anchor dir>/<origin digest>/<tree size>-<note digest>.note``, one file per checkpoint,
created exclusively and read-only, never rewritten. The per-origin folder also holds ``ORIGIN`` (the
origin line it belongs to) so several databases can share one anchor directory.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError


@dataclass(frozen=True)
class AnchoredNote:
    path: Path
    note: str


def origin_dir(anchor_dir: Path, origin: str) -> Path:
    return anchor_dir / hashlib.sha256(origin.encode()).hexdigest()[:24]


def note_name(tree_size: int, note: str) -> str:
    """The file name of an anchored note: its tree size (20 digits, so names sort by size) and note digest."""
    return f"{tree_size:020d}-{hashlib.sha256(note.encode()).hexdigest()[:16]}.note"


def append(anchor_dir: Path, origin: str, tree_size: int, note: str) -> Path:
    """Write *note* as a new file; an identical note already anchored is left as it is."""
    folder = origin_dir(anchor_dir, origin)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        origin_file = folder / "ORIGIN"
        if not origin_file.exists():
            _write_exclusive(origin_file, origin + "\n")
        elif origin_file.read_text() != origin + "\n":
            raise UsageError(f"{folder} belongs to another origin; the anchor directory was tampered with")
        path = folder / note_name(tree_size, note)
        if path.exists():
            if path.read_text() != note:
                raise UsageError(f"{path} exists with other content; anchored files are never rewritten")
            return path
        _write_exclusive(path, note)
    except OSError as exc:
        raise UsageError(f"cannot write to anchor directory {anchor_dir}: {exc.strerror}") from exc
    return path


def _write_exclusive(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def read(anchor_dir: Path, origin: str) -> list[AnchoredNote]:
    """Every note anchored for *origin*, smallest tree first."""
    if not anchor_dir.is_dir():
        raise UsageError(f"anchor directory {anchor_dir} does not exist")
    folder = origin_dir(anchor_dir, origin)
    if not folder.is_dir():
        return []
    # A file that is not UTF-8 (only an edit makes one) reads with replacement characters: its signature then
    # fails, a finding of verify rather than an error.
    return [AnchoredNote(p, p.read_bytes().decode("utf-8", "replace")) for p in sorted(folder.glob("*.note"))]
