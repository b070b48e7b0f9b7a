"""Checks of files on the machine doctor runs on: the anchor directory and the signing key."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ..core import anchors, signing
from ..core.errors import UsageError
from .items import Item
from .wording import count_noun


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def check_anchor_dir(anchor_dir: Path | None, origin: str, newest_checkpoint: dict[str, Any] | None,
                     tree_size: int) -> Item:
    """The anchor directory exists, only its owner may write it, and it holds this database's newest
    checkpoint (never one beyond the log). Mode bits are judged, not access(): the result is the same
    whoever runs doctor (root can write anything)."""
    if anchor_dir is None:
        return Item("anchor_dir", "warning", "no anchor directory given: cannot check that checkpoints leave the "
                    "database", "Pass the directory checkpoint --anchor-dir writes to (--anchor-dir DIR or "
                    "PGAUDIT_KIT_ANCHOR_DIR). Without anchors outside the database, a restore of an older backup or a "
                    "rewrite with recomputed hashes is only caught by a verifier's trusted state.")
    details: dict[str, Any] = {"path": str(anchor_dir), "origin": origin}
    if not anchor_dir.exists():
        return Item("anchor_dir", "warning", f"anchor directory {anchor_dir} does not exist",
                    "Mount or create it (checkpoint --anchor-dir creates the per-database folder).", details)
    if not anchor_dir.is_dir():
        return Item("anchor_dir", "warning", f"{anchor_dir} is not a directory", "Point --anchor-dir at a directory.",
                    details)
    folder = anchors.origin_dir(anchor_dir, origin)
    details["folder"] = str(folder)
    loose = [f"{p} (mode {_mode(p):04o})" for p in (anchor_dir, folder) if p.exists() and _mode(p) & 0o022]
    try:
        notes = anchors.read(anchor_dir, origin)
    except (OSError, UsageError) as exc:
        return Item("anchor_dir", "warning", f"cannot read anchor directory {anchor_dir}: {exc}",
                    "Make it readable by the account doctor and verify run as.", details)
    loose += [f"{n.path} (mode {_mode(n.path):04o})" for n in notes if _mode(n.path) & 0o222]
    sizes = sorted(_anchored_size(n) for n in notes)
    details.update(anchored=len(notes), newest_anchored_size=sizes[-1] if sizes else None, loose_permissions=loose)
    if sizes and sizes[-1] > tree_size:
        return Item("anchor_dir", "critical",
                    f"an anchored checkpoint covers {sizes[-1]} events but the log has {tree_size}: history was "
                    "truncated or an older backup restored",
                    "Run pgaudit-kit verify --full --anchor-dir DIR --public-key PUB: it names the missing history "
                    "(checkpoint_beyond_log, checkpoint_root). Consider pgaudit-kit lockdown.", details)
    problems: list[str] = []
    advice: list[str] = []
    if loose:
        problems.append("writable by group or others: " + ", ".join(loose))
        advice.append("Anyone who may write the anchor store may delete anchors: chmod go-w the directory (files "
                      "are created 0444), better use WORM storage or several anchor locations.")
    if not notes:
        problems.append(f"no checkpoint of this database ({origin}) is anchored here")
        advice.append("Run pgaudit-kit checkpoint --key KEY --anchor-dir DIR on a schedule.")
    elif newest_checkpoint is not None and newest_checkpoint["tree_size"] > sizes[-1]:
        problems.append(f"the newest checkpoint (log size {newest_checkpoint['tree_size']}) is not anchored here "
                        f"(newest anchored: {sizes[-1]})")
        advice.append("Checkpoints are made without --anchor-dir, or into another directory: anchor every one.")
    if problems:
        return Item("anchor_dir", "warning", "; ".join(problems), " ".join(advice), details)
    return Item("anchor_dir", "ok", f"{count_noun(len(notes), 'checkpoint')} of this database anchored in "
                f"{anchor_dir}, the newest covering {sizes[-1]} events; writable only by its owner", details=details)


def _anchored_size(note: anchors.AnchoredNote) -> int:
    try:
        return int(note.path.name.split("-", 1)[0])
    except ValueError:
        return -1


def check_key_file(key_path: Path | None, newest_checkpoint: dict[str, Any] | None) -> Item:
    """The private key is readable, not accessible to group or others (signing.read_private_key's rule),
    and signed the newest checkpoint."""
    if key_path is None:
        return Item("key_file", "info", "no signing key given: not checked",
                    "Run doctor with --key KEY (or PGAUDIT_KIT_KEY) where checkpoint runs; the key belongs on that "
                    "machine, not on the database server.")
    details: dict[str, Any] = {"path": str(key_path)}
    try:
        key = signing.read_private_key(key_path)
    except UsageError as exc:
        try:
            mode = _mode(key_path)
        except OSError:
            return Item("key_file", "warning", str(exc), "Point --key at the private key file keygen wrote.", details)
        details["mode"] = f"{mode:04o}"
        if mode & 0o077:
            return Item("key_file", "critical", f"private key {key_path} is accessible to group or others (mode "
                        f"{mode:04o})", f"chmod 600 {key_path}, and treat the key as exposed: whoever read it can sign "
                        "checkpoints of a rewritten log. Consider a new key (keygen) for future checkpoints.", details)
        return Item("key_file", "warning", str(exc), "Point --key at the private key file keygen wrote.", details)
    details.update(mode=f"{_mode(key_path):04o}", key_name=key.name)
    if newest_checkpoint is not None:
        try:
            signing.open_note(str(newest_checkpoint["note"]), key.verifier())
        except signing.SignatureError:
            return Item("key_file", "warning",
                        f"the newest checkpoint (#{newest_checkpoint['id']}) is not signed by {key.name} ({key_path})",
                        "Checkpoints are signed with another key: check which key checkpoint uses and which public "
                        "key verifiers trust.", details)
    return Item("key_file", "ok", f"private key {key.name} is mode {details['mode']}"
                + (" and signed the newest checkpoint" if newest_checkpoint is not None else ""), details=details)
