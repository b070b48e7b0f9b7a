"""Merkle code against transparency-dev/merkle's published vectors, and proofs against the frontier."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from pgaudit_kit.core import merkle
from tests.support.vectors import MERKLE_VECTORS as VECTORS


def _cases(kind: str) -> list[Path]:
    found = sorted((VECTORS / kind).rglob("*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"
    return found


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in (case.get("proof") or [])]


@pytest.mark.parametrize("path", _cases("inclusion"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_inclusion_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), _proof(case), _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", _cases("consistency"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_consistency_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), _proof(case))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_frontier_matches_recursive_root_and_proofs_verify() -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(70)]
    frontier = merkle.Frontier()
    assert frontier.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == n
        assert frontier.root() == merkle.root_of(leaves[:n])
        for i in (0, n // 2, n - 1):
            merkle.verify_inclusion(i, n, leaves[i], merkle.inclusion_proof(i, leaves[:n]), frontier.root())
        for m in (1, max(1, n // 3), n):
            proof = merkle.consistency_proof(m, leaves[:n])
            merkle.verify_consistency(m, n, merkle.root_of(leaves[:m]), frontier.root(), proof)


def test_tampered_proofs_are_rejected_with_values() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(10)]
    root = merkle.root_of(leaves)
    proof = merkle.inclusion_proof(3, leaves)
    with pytest.raises(merkle.ProofError) as caught:
        merkle.verify_inclusion(3, 10, merkle.leaf_hash(b"forged"), proof, root)
    assert caught.value.expected == root and caught.value.calculated not in (None, root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(4, 10, leaves[3], proof, root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(4, 10, merkle.root_of(leaves[:5]), root, merkle.consistency_proof(4, leaves))


def test_extending_the_frontier_equals_appending_leaf_by_leaf() -> None:
    """verify appends a clean block's leaves all at once, a perfect subtree at a time: from any size."""
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(300)]
    for first in (0, 1, 2, 3, 5, 8, 13, 64, 100):
        for count in (0, 1, 2, 7, 16, 31, 64, 100, 200):
            one_by_one, at_once = merkle.Frontier(), merkle.Frontier()
            for leaf in leaves[:first]:
                one_by_one.append(leaf)
            at_once.extend(b"".join(leaves[:first]))
            for leaf in leaves[first:first + count]:
                one_by_one.append(leaf)
            at_once.extend(b"".join(leaves[first:first + count]))
            assert at_once == one_by_one, (first, count)
            assert at_once.root() == merkle.root_of(leaves[:first + count])
    with pytest.raises(ValueError):
        merkle.Frontier().extend(b"\x00" * 33)


def test_proofs_from_streamed_leaves_equal_the_in_memory_proofs() -> None:
    """inclusion_ranges / consistency_ranges with range_roots give the same proofs as inclusion_proof and
    consistency_proof, reading the leaves once in chunks; after a retired prefix known only by its frontier too,
    and a proof that needs a node inside the retired prefix is refused."""
    rng = random.Random(7)
    for _ in range(150):
        n = rng.randint(1, 120)
        b = rng.choice([0, rng.randint(0, n)])
        leaves = [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]
        base = merkle.Frontier()
        base.extend(b"".join(leaves[:b]))
        rest = b"".join(leaves[b:])
        chunks = [rest[i:i + 5 * merkle.HASH_SIZE] for i in range(0, len(rest), 5 * merkle.HASH_SIZE)]
        for i in range(b, n):
            assert merkle.range_roots(merkle.inclusion_ranges(i, n), chunks, base) == merkle.inclusion_proof(i, leaves)
        for m in range(max(b, 1), n):
            assert merkle.range_roots(merkle.consistency_ranges(m, n), chunks, base) == \
                merkle.consistency_proof(m, leaves)
        if b & (b - 1):  # not a power of two: leaf 0 lies inside a retired subtree
            with pytest.raises(ValueError, match="retired history"):
                merkle.range_roots(merkle.inclusion_ranges(0, n), chunks, base)
        if b < n - 5:  # the last chunk cut off: the first leaf's path, which reaches the last, cannot be computed
            with pytest.raises(ValueError, match="fewer than"):
                merkle.range_roots(merkle.inclusion_ranges(b, n), chunks[:-1], base)
