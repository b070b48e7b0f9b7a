"""The reference verifier against the published vectors (tests/vectors/encoding, tests/vectors/merkle), and its
note, key and proof-file rules against documents made here with the §10 test key. No database."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.reference.verifier import (
    EVENT_FIELDS,
    Checkpoint,
    PublicKey,
    Rejected,
    _Tree,
    block_hash,
    block_hash_input,
    check_consistency,
    check_inclusion,
    field,
    frontier_root,
    leaf_hash,
    leaf_input,
    open_checkpoint,
    parse_checkpoint,
    percent_encode,
    tree_root,
    verify_consistency_proof,
    verify_inclusion_proof,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ENCODING = sorted((VECTORS / "encoding").glob("*.json"))
MERKLE = VECTORS / "merkle"
# RFC 9162 defines inclusion and consistency proofs only; the subtree* folders test a later draft's proofs.
INCLUSION = sorted((MERKLE / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((MERKLE / "consistency").rglob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _ids(paths: Sequence[Path], base: Path) -> list[str]:
    return [str(path.relative_to(base)) for path in paths]


# --------------------------------------------------------------------------------------------------
# tests/vectors/encoding: events and blocks
# --------------------------------------------------------------------------------------------------


def test_the_encoding_vectors_are_there() -> None:
    kinds = {_load(path)["kind"] for path in ENCODING}
    assert kinds == {"event", "block"}, "every encoding vector is an event or a block"


@pytest.mark.parametrize("path", ENCODING, ids=_ids(ENCODING, VECTORS))
def test_encoding_vector(path: Path) -> None:
    case = _load(path)
    if case["kind"] == "event":
        data = leaf_input(case["fields"])
        assert data.hex() == case["leaf_input_hex"]
        assert leaf_hash(data).hex() == case["leaf_hash_hex"]
    else:
        assert case["kind"] == "block"
        assert block_hash_input(case["block"]).hex() == case["block_hash_input_hex"]
        assert block_hash(case["block"]).hex() == case["block_hash_hex"]


MUTATIONS = [path for path in ENCODING if "mutation_of" in _load(path)]


@pytest.mark.parametrize("path", MUTATIONS, ids=_ids(MUTATIONS, VECTORS))
def test_a_mutation_gives_another_leaf(path: Path) -> None:
    case = _load(path)
    original = _load(path.with_name(case["mutation_of"] + ".json"))
    assert leaf_input(case["fields"]) != leaf_input(original["fields"])
    assert leaf_hash(leaf_input(case["fields"])).hex() != original["leaf_hash_hex"]


def test_the_22_fields_are_the_vectors_fields() -> None:
    assert len(EVENT_FIELDS) == 22
    assert list(_insert_fields()) == list(EVENT_FIELDS)  # the vectors list them in leaf order


def test_fields_tell_null_from_empty() -> None:
    assert field(None) == b"\xff\xff\xff\xff"
    assert field(b"") == b"\x00\x00\x00\x00"
    assert field("ü".encode()) == b"\x00\x00\x00\x02\xc3\xbc"


def test_block_hash_takes_bytes_or_hex_and_numbers_or_text() -> None:
    case = _load(VECTORS / "encoding" / "block-chained.json")["block"]
    as_stored = {**case, "root": bytes.fromhex(case["root"]), "prev_hash": bytes.fromhex(case["prev_hash"]),
                 "last_xid": str(case["last_xid"]), "sealed_at_us": str(case["sealed_at_us"])}  # fmt: skip
    assert block_hash(as_stored) == block_hash(case)
    assert block_hash({**case, "sealed_at_us": "infinity"}) != block_hash(case)


def _insert_fields() -> dict[str, str | None]:
    fields: dict[str, str | None] = _load(VECTORS / "encoding" / "insert.json")["fields"]
    return fields


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.pop("actor"),
        lambda f: f.update(extra=None),
        lambda f: f.update(seq=None),
        lambda f: f.update(id=1),
        lambda f: f.update(actor="\ud800"),
    ],
    ids=["missing", "extra", "unknown-name", "number", "lone-surrogate"],
)
def test_leaf_input_rejects_other_fields(change: Callable[[dict[str, Any]], object]) -> None:
    fields: dict[str, Any] = _insert_fields()
    change(fields)
    with pytest.raises(Rejected):
        leaf_input(fields)


def test_percent_encoding_of_the_database_name() -> None:
    assert percent_encode("my db/ü".encode()) == "my%20db%2F%C3%BC"
    assert percent_encode(b"A-z_0.9~%") == "A-z_0.9~%25"


# --------------------------------------------------------------------------------------------------
# tests/vectors/merkle: RFC 9162 inclusion and consistency (transparency-dev testdata)
# --------------------------------------------------------------------------------------------------


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.mark.parametrize("path", INCLUSION, ids=_ids(INCLUSION, MERKLE))
def test_rfc9162_inclusion_vector(path: Path) -> None:
    case = _load(path)
    path_hashes = [_b64(item) for item in case["proof"] or []]  # null in the files means no path

    def check() -> None:
        check_inclusion(_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], path_hashes, _b64(case["root"]))

    _expect(check, case["wantErr"])


@pytest.mark.parametrize("path", CONSISTENCY, ids=_ids(CONSISTENCY, MERKLE))
def test_rfc9162_consistency_vector(path: Path) -> None:
    case = _load(path)
    path_hashes = [_b64(item) for item in case["proof"] or []]

    def check() -> None:
        check_consistency(case["size1"], case["size2"], path_hashes, _b64(case["root1"]), _b64(case["root2"]))

    _expect(check, case["wantErr"])


def _expect(check: Callable[[], None], want_error: bool) -> None:
    if want_error:
        with pytest.raises(Rejected):
            check()
    else:
        check()


# The RFC 6962 reference tree the vectors are made from (certificate-transparency's test data).
RFC6962_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]


def _published_roots() -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for path in MERKLE.glob("inclusion/[0-9]*/happy-path.json"):
        case = _load(path)
        roots[case["treeSize"]] = _b64(case["root"])
    for path in MERKLE.glob("consistency/[0-9]*/happy-path.json"):
        case = _load(path)
        roots[case["size1"]], roots[case["size2"]] = _b64(case["root1"]), _b64(case["root2"])
    return roots


def test_tree_root_gives_the_published_roots() -> None:
    leaves = [leaf_hash(data) for data in RFC6962_LEAVES]
    roots = _published_roots()
    assert len(roots) >= 3
    for size, root in roots.items():
        assert tree_root(leaves[:size]) == root, size
    assert tree_root([]) == hashlib.sha256(b"").digest()


def test_the_compact_range_gives_every_root_and_frontier() -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(40)]
    tree = _Tree()
    for size, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.root() == tree_root(leaves[:size])
        assert len(tree.frontier()) == size.bit_count()  # one perfect subtree per set bit, largest first
        assert frontier_root(tree.frontier()) == tree.root()
    resumed = _Tree(_frontier_of(leaves[:13]), 13)  # a retired prefix (§7.1): grow on from its frontier
    for leaf in leaves[13:]:
        resumed.append(leaf)
    assert resumed.root() == tree.root()
    assert resumed.root_at(12) is None and resumed.root_at(20) == tree_root(leaves[:20])


def _frontier_of(leaves: Sequence[bytes]) -> list[bytes]:
    tree = _Tree()
    for leaf in leaves:
        tree.append(leaf)
    return tree.frontier()


# --------------------------------------------------------------------------------------------------
# §5 keys and notes, with the §10 test key (seed: SHA-256 of "pgaudit-kit test vector key")
# --------------------------------------------------------------------------------------------------

SEED = hashlib.sha256(b"pgaudit-kit test vector key").digest()
PRIVATE = Ed25519PrivateKey.from_private_bytes(SEED)
PUBLIC_RAW = PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
NAME = "reference-test"
KEY_HASH = hashlib.sha256(NAME.encode() + b"\n\x01" + PUBLIC_RAW).digest()[:4]


def _key_text(algorithm_and_key: bytes, name: str = NAME, key_hash: str = KEY_HASH.hex()) -> str:
    return f"{name}+{key_hash}+{base64.b64encode(algorithm_and_key).decode()}"


PUBLIC_TEXT = _key_text(b"\x01" + PUBLIC_RAW)
KEY = PublicKey.parse(PUBLIC_TEXT)
ORIGIN = "pgaudit-kit/7000000000000000001/shop/0b7c6f1e-0000-4000-8000-000000000001"


def _signature_line(text: str, name: str = NAME, key_hash: bytes = KEY_HASH) -> str:
    signature = PRIVATE.sign(text.encode("utf-8"))
    return f"\u2014 {name} {base64.b64encode(key_hash + signature).decode()}\n"


def _note(body: str) -> str:
    return body + "\n" + _signature_line(body)


def _body(size: int, root: bytes, origin: str = ORIGIN) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


ROOT = hashlib.sha256(b"root").digest()


def test_public_key_parses() -> None:
    assert (KEY.name, KEY.key_hash, KEY.public) == (NAME, KEY_HASH, PUBLIC_RAW)
    assert PublicKey.parse(PUBLIC_TEXT + "\n") == KEY  # as a .pub file holds it


@pytest.mark.parametrize(
    "text",
    [
        PUBLIC_TEXT.replace(KEY_HASH.hex(), KEY_HASH.hex().upper()),
        PUBLIC_TEXT.replace(KEY_HASH.hex(), "00000000"),
        _key_text(b"\x02" + PUBLIC_RAW),
        _key_text(b"\x01" + PUBLIC_RAW[:31]),
        PUBLIC_TEXT + "=",
        "other name" + PUBLIC_TEXT[len(NAME) :],
        PUBLIC_TEXT + "\n\n",
        "",
    ],
    ids=[
        "upper-hex",
        "wrong-hash",
        "not-ed25519",
        "short-key",
        "extra-padding",
        "space-in-name",
        "two-newlines",
        "empty",
    ],
)
def test_public_key_rejects(text: str) -> None:
    with pytest.raises(Rejected):
        PublicKey.parse(text)


def test_checkpoint_opens() -> None:
    assert open_checkpoint(_note(_body(5, ROOT)), KEY) == Checkpoint(ORIGIN, 5, ROOT)
    assert open_checkpoint(_note(_body(0, hashlib.sha256(b"").digest())), KEY).size == 0


def test_extension_lines_are_signed_and_ignored() -> None:
    assert open_checkpoint(_note(_body(5, ROOT) + "extension one\nextension two\n"), KEY).size == 5


def test_lines_of_other_keys_are_skipped() -> None:
    body = _body(5, ROOT)
    other = _signature_line(body, name="other", key_hash=b"\x00\x01\x02\x03")
    same_name_other_hash = _signature_line(body, key_hash=b"\x00\x01\x02\x03")
    assert open_checkpoint(body + "\n" + other + same_name_other_hash + _signature_line(body), KEY).size == 5


def test_without_a_key_the_note_is_still_parsed() -> None:
    assert parse_checkpoint(_note(_body(7, ROOT))) == Checkpoint(ORIGIN, 7, ROOT)
    with pytest.raises(Rejected):
        parse_checkpoint(_note(f"{ORIGIN}\n07\n{base64.b64encode(ROOT).decode()}\n"))


GOOD_BODY = _body(5, ROOT)
GOOD_NOTE = _note(GOOD_BODY)
ROOT_B64 = base64.b64encode(ROOT).decode()
URL_SAFE_ROOT = base64.urlsafe_b64encode(b"\xff" * 32).decode()
MALFORMED_NOTES = {
    "size-leading-zero": _note(f"{ORIGIN}\n05\n{ROOT_B64}\n"),
    "size-plus": _note(f"{ORIGIN}\n+5\n{ROOT_B64}\n"),
    "size-negative": _note(f"{ORIGIN}\n-5\n{ROOT_B64}\n"),
    "size-not-ascii-digit": _note(f"{ORIGIN}\n\u0665\n{ROOT_B64}\n"),
    "root-unpadded": _note(f"{ORIGIN}\n5\n{ROOT_B64.rstrip('=')}\n"),
    "root-31-bytes": _note(f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n"),
    "root-url-safe": _note(f"{ORIGIN}\n5\n{URL_SAFE_ROOT}\n"),
    "root-non-canonical": _note(f"{ORIGIN}\n5\n{ROOT_B64[:-2]}{chr(ord(ROOT_B64[-2]) ^ 1)}=\n"),
    "two-lines-only": _note(f"{ORIGIN}\n5\n"),
    "empty-origin": _note(f"\n5\n{ROOT_B64}\n"),
    "control-character": _note(GOOD_BODY + "tab\there\n"),
    "no-final-newline": GOOD_NOTE[:-1],
    "no-signature": GOOD_BODY + "\n",
    "no-empty-line": GOOD_BODY + _signature_line(GOOD_BODY),
    "line-after-signatures": GOOD_NOTE + "not a signature\n",
    "blank-line-among-signatures": GOOD_NOTE + "\n" + _signature_line(GOOD_BODY),
    "signature-not-base64": GOOD_BODY + "\n\u2014 " + NAME + " !!!!\n",
    "hyphen-not-em-dash": GOOD_NOTE.replace("\u2014", "-"),
    "body-changed": GOOD_NOTE.replace("\n5\n", "\n6\n"),
    "only-another-key": GOOD_BODY + "\n" + _signature_line(GOOD_BODY, key_hash=b"\x00\x01\x02\x03"),
    "crlf": GOOD_NOTE.replace("\n", "\r\n"),
}


@pytest.mark.parametrize("note", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_or_unsigned_notes_are_rejected(note: str) -> None:
    with pytest.raises(Rejected):
        open_checkpoint(note, KEY)


# --------------------------------------------------------------------------------------------------
# §6 proof files, over a tree of the encoding vectors' events
# --------------------------------------------------------------------------------------------------


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if index < k:
        return _inclusion_path(index, leaves[:k]) + [tree_root(leaves[k:])]
    return _inclusion_path(index - k, leaves[k:]) + [tree_root(leaves[:k])]


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    if m == len(leaves):
        return [] if complete else [tree_root(leaves)]
    k = _largest_power_of_two_below(len(leaves))
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [tree_root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [tree_root(leaves[:k])]


EVENTS = [_load(path)["fields"] for path in ENCODING if _load(path)["kind"] == "event"]
LEAVES = [leaf_hash(leaf_input(fields)) for fields in EVENTS]


def _checkpoint(size: int) -> str:
    return _note(_body(size, tree_root(LEAVES[:size])))


def _inclusion_document(seq: int, size: int) -> dict[str, Any]:
    return {"format": "pgaudit-kit-inclusion-proof/1", "event": dict(EVENTS[seq]), "seq": seq, "tree_size": size,
            "proof": [base64.b64encode(h).decode() for h in _inclusion_path(seq, LEAVES[:size])],
            "checkpoint": _checkpoint(size)}  # fmt: skip


def _consistency_document(old: int, new: int) -> dict[str, Any]:
    return {"format": "pgaudit-kit-consistency-proof/1", "old_checkpoint": _checkpoint(old),
            "new_checkpoint": _checkpoint(new),
            "proof": [base64.b64encode(h).decode() for h in _subproof(old, LEAVES[:new], True)]}  # fmt: skip


def test_every_inclusion_proof_verifies() -> None:
    for size in range(1, len(LEAVES) + 1):
        for seq in range(size):
            verify_inclusion_proof(_inclusion_document(seq, size), KEY)


def test_every_consistency_proof_verifies() -> None:
    for new in range(1, len(LEAVES) + 1):
        for old in range(1, new + 1):
            verify_consistency_proof(_consistency_document(old, new), KEY)


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


INCLUSION_BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "format": lambda d: d.update(format="pgaudit-kit-inclusion-proof/2"),
    "missing-field": lambda d: d.pop("checkpoint"),
    "event-field-missing": lambda d: d["event"].pop("context"),
    "event-field-extra": lambda d: d["event"].update(extra="x"),
    "event-number": lambda d: d["event"].update(client_port=54321),
    "event-changed": lambda d: d["event"].update(actor="mallory"),
    "seq-string": lambda d: d.update(seq=str(d["seq"])),
    "seq-bool": lambda d: d.update(seq=True),
    "seq-float": lambda d: d.update(seq=float(d["seq"])),
    "seq-outside": lambda d: d.update(seq=d["tree_size"]),
    "seq-other": lambda d: d.update(seq=d["seq"] ^ 1),
    "tree-size-not-checkpoint": lambda d: d.update(tree_size=d["tree_size"] - 1),
    "path-short": lambda d: d["proof"].pop(),
    "path-long": lambda d: d["proof"].append(d["proof"][0]),
    "hash-flipped": lambda d: d["proof"].__setitem__(0, _flip(d["proof"][0])),
    "hash-31-bytes": lambda d: d["proof"].__setitem__(0, base64.b64encode(b"\x00" * 31).decode()),
    "hash-not-base64": lambda d: d["proof"].__setitem__(0, "*" * 44),
    "hash-number": lambda d: d["proof"].__setitem__(0, 7),
    "proof-not-list": lambda d: d.update(proof=",".join(d["proof"])),
    "checkpoint-other-key": lambda d: d.update(
        checkpoint=d["checkpoint"].split("\n\n")[0] + "\n\n" + _signature_line("x", key_hash=b"\x09\x09\x09\x09")
    ),
    "checkpoint-other-root": lambda d: d.update(checkpoint=_note(_body(d["tree_size"], ROOT))),
}


@pytest.mark.parametrize("breakage", INCLUSION_BREAKAGES.values(), ids=INCLUSION_BREAKAGES.keys())
def test_a_broken_inclusion_proof_is_rejected(breakage: Callable[[dict[str, Any]], object]) -> None:
    document = _inclusion_document(5, 11)
    verify_inclusion_proof(copy.deepcopy(document), KEY)
    breakage(document)
    with pytest.raises(Rejected):
        verify_inclusion_proof(document, KEY)


def test_unknown_top_level_keys_are_ignored() -> None:
    verify_inclusion_proof({**_inclusion_document(2, 3), "comment": "made by hand"}, KEY)


CONSISTENCY_BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "format": lambda d: d.update(format="pgaudit-kit-inclusion-proof/1"),
    "swapped": lambda d: d.update(old_checkpoint=d["new_checkpoint"], new_checkpoint=d["old_checkpoint"]),
    "other-origin": lambda d: d.update(new_checkpoint=_note(_body(11, tree_root(LEAVES[:11]), ORIGIN + "x"))),
    "path-short": lambda d: d["proof"].pop(),
    "path-empty": lambda d: d.update(proof=[]),
    "hash-flipped": lambda d: d["proof"].__setitem__(-1, _flip(d["proof"][-1])),
    "from-size-0": lambda d: d.update(old_checkpoint=_checkpoint(0)),
    "unsigned": lambda d: d.update(old_checkpoint=d["old_checkpoint"].split("\n\n")[0] + "\n\n"),
}


@pytest.mark.parametrize("breakage", CONSISTENCY_BREAKAGES.values(), ids=CONSISTENCY_BREAKAGES.keys())
def test_a_broken_consistency_proof_is_rejected(breakage: Callable[[dict[str, Any]], object]) -> None:
    document = _consistency_document(6, 11)
    verify_consistency_proof(copy.deepcopy(document), KEY)
    breakage(document)
    with pytest.raises(Rejected):
        verify_consistency_proof(document, KEY)


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    document = _consistency_document(4, 4)
    assert document["proof"] == []
    verify_consistency_proof(document, KEY)
    with pytest.raises(Rejected):
        verify_consistency_proof({**document, "proof": [base64.b64encode(LEAVES[0]).decode()]}, KEY)
    with pytest.raises(Rejected):
        verify_consistency_proof({**document, "new_checkpoint": _note(_body(4, ROOT))}, KEY)
