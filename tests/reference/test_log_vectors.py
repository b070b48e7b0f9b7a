"""The reference verifier against the end-to-end log vectors (tests/vectors/log, docs/ENCODING.md §10): the same
files the kit's code is held to in tests/unit/test_log_vectors.py. Only the vector files are read here, as an
outside implementer would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reference import verifier as ref

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "log"
LOG: dict[str, Any] = json.loads((VECTORS / "log.json").read_text())
MALFORMED: dict[str, Any] = json.loads((VECTORS / "malformed.json").read_text())
KEY = ref.PublicKey.parse(LOG["key"]["public"])
LEAVES = [bytes.fromhex(e["leaf_hash_hex"]) for e in LOG["events"]]


def test_leaves_roots_and_blocks() -> None:
    for event in LOG["events"]:
        data = ref.leaf_input(event["fields"])
        assert (data.hex(), ref.leaf_hash(data).hex()) == (event["leaf_input_hex"], event["leaf_hash_hex"])
    for n in range(len(LEAVES) + 1):
        assert ref.tree_root(LEAVES[:n]).hex() == LOG["roots"][str(n)]
    for b in LOG["blocks"]:
        assert ref.block_hash_input(b).hex() == b["block_hash_input_hex"]
        assert ref.block_hash(b).hex() == b["block_hash_hex"]
        assert ref.frontier_root([bytes.fromhex(h) for h in b["frontier"]]).hex() == b["root"]


def test_origin_checkpoints_and_anchor_names() -> None:
    o = LOG["origin"]
    assert "/".join(("pgaudit-kit", o["system_identifier"], ref.percent_encode(o["database"].encode()),
                     o["install_id"])) == o["line"]
    for c in LOG["checkpoints"]:
        opened = ref.open_checkpoint(c["note"], KEY)
        assert (opened.origin, opened.size, opened.root.hex()) == (o["line"], c["tree_size"],
                                                                    LOG["roots"][str(c["tree_size"])])
        folder = ref.anchor_folder(Path("anchors"), o["line"])
        assert folder.name == c["path"].split("/")[0] == LOG["anchor_origin_file"]["path"].split("/")[0]


def test_proofs_verify() -> None:
    for document in LOG["proofs"]["inclusion"]:
        ref.verify_inclusion_proof(document, KEY)
    for document in LOG["proofs"]["consistency"]:
        ref.verify_consistency_proof(document, KEY)


@pytest.mark.parametrize("case", MALFORMED["reject_notes"], ids=lambda c: c["name"])
def test_malformed_notes_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(ref.Rejected):
        ref.open_checkpoint(case["note"], KEY)


@pytest.mark.parametrize("case", MALFORMED["accept_notes"], ids=lambda c: c["name"])
def test_unusual_valid_notes_are_accepted(case: dict[str, Any]) -> None:
    assert ref.open_checkpoint(case["note"], KEY).size == 7


@pytest.mark.parametrize("case", MALFORMED["reject_proofs"], ids=lambda c: c["name"])
def test_malformed_proofs_are_rejected(case: dict[str, Any]) -> None:
    check = (ref.verify_inclusion_proof if case["proof"].get("format", "").startswith("pgaudit-kit-inclusion")
             else ref.verify_consistency_proof)
    with pytest.raises(ref.Rejected):
        check(case["proof"], KEY)
