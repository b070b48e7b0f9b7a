"""The kit's Python against the end-to-end log vectors (tests/vectors/log, docs/ENCODING.md §10): leaves, tree,
blocks, origin, key, deterministic signatures, anchor names, proofs, and every malformed note and proof rejected.
The same vectors' stored columns are rendered by a real server in tests/db/test_encoding.py, and the reference
verifier (tests/reference) is held to them in tests/reference/test_reference_vectors.py."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from pgaudit_kit.core import anchors, encoding, merkle, signing
from pgaudit_kit.core.errors import UsageError
from pgaudit_kit.log import proofs
from tests.support.vectors import LOG, MALFORMED, block_hash_input

KEY = signing.VerifierKey.parse(LOG["key"]["public"])
LEAVES = [bytes.fromhex(e["leaf_hash_hex"]) for e in LOG["events"]]


def test_fields_give_the_leaves_in_seq_order() -> None:
    for seq, event in enumerate(LOG["events"]):
        data = encoding.event_leaf_input([event["fields"][name] for name in encoding.EVENT_FIELDS])
        assert (event["seq"], data.hex()) == (seq, event["leaf_input_hex"])
        assert merkle.leaf_hash(data).hex() == event["leaf_hash_hex"]


def test_roots_at_every_size() -> None:
    assert set(LOG["roots"]) == {str(n) for n in range(len(LEAVES) + 1)}
    frontier = merkle.Frontier()
    for n in range(len(LEAVES) + 1):
        assert merkle.root_of(LEAVES[:n]).hex() == frontier.root().hex() == LOG["roots"][str(n)]
        if n < len(LEAVES):
            frontier.append(LEAVES[n])


def test_blocks_hash_chain_and_seal_the_events_in_order() -> None:
    prev, sealed = None, 0
    events_by_id = {int(e["fields"]["id"]): e for e in LOG["events"]}
    for b in LOG["blocks"]:
        data = block_hash_input(b)
        assert data.hex() == b["block_hash_input_hex"]
        assert hashlib.sha256(data).hexdigest() == b["block_hash_hex"]
        assert (b["first_seq"], b["prev_hash"]) == (sealed, prev)
        assert b["leaves"] == "".join(events_by_id[i]["leaf_hash_hex"] for i in b["event_ids"])
        assert [events_by_id[i]["seq"] for i in b["event_ids"]] == list(range(sealed, b["tree_size"]))
        frontier = merkle.Frontier()
        frontier.extend(b"".join(LEAVES[:b["tree_size"]]))
        assert ([p.hex() for p in frontier.peaks], frontier.root().hex()) == (b["frontier"], b["root"])
        prev, sealed = b["block_hash_hex"], b["tree_size"]
    assert sealed == len(LEAVES)
    first = LOG["blocks"][0]
    assert first["last_xid_sealed"] < first["last_xid_events"]  # a transaction spans both blocks


def test_origin_key_and_deterministic_signatures() -> None:
    o = LOG["origin"]
    assert signing.origin_line(o["system_identifier"], o["database"], o["install_id"]) == o["line"]
    assert "%20" in o["line"] and "%2F" in o["line"] and "%C3%BC" in o["line"] and "%25" in o["line"]
    signer = signing.SignerKey.parse(LOG["key"]["private"])
    assert signer.seed == hashlib.sha256(b"pgaudit-kit test vector key").digest()
    assert signer.verifier().encode() == LOG["key"]["public"]
    for c in LOG["checkpoints"]:
        assert signing.sign_note(c["body"], signer) == c["note"]
        body = signing.Checkpoint.parse(signing.open_note(c["note"], KEY))
        assert (body.origin, body.size, body.root.hex()) == (o["line"], c["tree_size"], LOG["roots"][str(c["tree_size"])])


def test_anchor_names(tmp_path: Path) -> None:
    for c in LOG["checkpoints"]:
        path = anchors.append(tmp_path, LOG["origin"]["line"], c["tree_size"], c["note"])
        assert path.relative_to(tmp_path).as_posix() == c["path"]
        assert path.read_bytes() == c["note"].encode()
    origin_file = LOG["anchor_origin_file"]
    assert (tmp_path / origin_file["path"]).read_bytes() == origin_file["content"].encode()


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_proof_files_verify_and_are_what_prove_computes(kind: str) -> None:
    for document in LOG["proofs"][kind]:
        assert proofs.verify_proof(document, KEY).startswith(("event ", "tree size "))
        if kind == "inclusion":
            expected = merkle.inclusion_proof(document["seq"], LEAVES[:document["tree_size"]])
        else:
            old = signing.Checkpoint.parse(signing.open_note(document["old_checkpoint"], KEY)).size
            new = signing.Checkpoint.parse(signing.open_note(document["new_checkpoint"], KEY)).size
            expected = merkle.consistency_proof(old, LEAVES[:new])
        assert [signing.b64decode(h) for h in document["proof"]] == expected


def _open(note: str) -> signing.Checkpoint:
    return signing.Checkpoint.parse(signing.open_note(note, KEY))


@pytest.mark.parametrize("case", MALFORMED["reject_notes"], ids=lambda c: c["name"])
def test_malformed_notes_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(signing.SignatureError):
        _open(case["note"])


@pytest.mark.parametrize("case", MALFORMED["accept_notes"], ids=lambda c: c["name"])
def test_valid_variants_of_notes_are_accepted(case: dict[str, Any]) -> None:
    assert _open(case["note"]).size == 7


@pytest.mark.parametrize("case", MALFORMED["reject_proofs"], ids=lambda c: c["name"])
def test_malformed_proofs_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises((merkle.ProofError, signing.SignatureError, UsageError)):
        proofs.verify_proof(case["proof"], KEY)
