"""Where the test vectors live (``tests/vectors``, inside the repository) and how a vector file is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ENCODING_VECTORS = sorted((VECTORS / "encoding").glob("*.json"))
MERKLE_VECTORS = VECTORS / "merkle"


def block_hash_input(b: dict[str, Any]) -> bytes:
    """The kit's block hash input of a vector's block (its fields as the vector files write them: hashes in hex)."""
    from pgaudit_kit.core import encoding

    return encoding.block_hash_input(
        b["block_no"], b["first_seq"], b["tree_size"], bytes.fromhex(b["root"]), b["last_xid"], b["last_event_id"],
        b["last_xid_events"], b["last_xid_sealed"], bytes.fromhex(b["prev_hash"]) if b["prev_hash"] else None,
        b["sealed_at_us"])


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


LOG = load(VECTORS / "log" / "log.json")
MALFORMED = load(VECTORS / "log" / "malformed.json")
