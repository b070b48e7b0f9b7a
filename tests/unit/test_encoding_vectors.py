"""The canonical encoding against its published vectors (tests/vectors/encoding), in Python alone; the
database's encodings are held to the same vectors in tests/db/test_encoding.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pgaudit_kit.core import encoding, merkle
from tests.support.vectors import ENCODING_VECTORS as VECTORS
from tests.support.vectors import block_hash_input
from tests.support.vectors import load as _load


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vectors_match_the_reference_encoding(path: Path) -> None:
    case = _load(path)
    if case["kind"] == "block":
        b = case["block"]
        data = block_hash_input(b)
        assert data.hex() == case["block_hash_input_hex"]
        assert hashlib.sha256(data).hexdigest() == case["block_hash_hex"]
        return
    data = encoding.event_leaf_input([case["fields"][n] for n in encoding.EVENT_FIELDS])
    assert data.hex() == case["leaf_input_hex"]
    assert merkle.leaf_hash(data).hex() == case["leaf_hash_hex"]
    if "mutation_of" in case:
        base = _load(path.with_name(case["mutation_of"] + ".json"))
        assert base["leaf_hash_hex"] != case["leaf_hash_hex"]


def test_vectors_cover_the_required_cases() -> None:
    names = {p.stem for p in VECTORS}
    assert {"insert", "update", "delete-no-transaction-record", "unicode-and-escapes", "mutation-bit-flip",
            "block-genesis", "block-chained"} <= names
