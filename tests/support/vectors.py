"""Where the test vectors live (``tests/vectors``, inside the repository) and how a vector file is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ENCODING_VECTORS = sorted((VECTORS / "encoding").glob("*.json"))
MERKLE_VECTORS = VECTORS / "merkle"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


LOG = load(VECTORS / "log" / "log.json")
MALFORMED = load(VECTORS / "log" / "malformed.json")
