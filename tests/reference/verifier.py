"""A reference verifier for pgaudit-kit logs, written from docs/ENCODING.md alone.

It restates the format document as code: the field and leaf encodings (§1, §2), the tree and the sealing
order (§3), block hashes (§4), signed checkpoints (§5), proof files (§6), retired history (§7.1) and the
log-integrity finding kinds of `verify` (§8, §9). It imports nothing from pgaudit_kit and favours
plainness over speed: everything after reading the tables is computed in Python.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

if TYPE_CHECKING:
    import psycopg


class Rejected(ValueError):
    """Something a verifier must reject: a malformed or wrongly signed note, a bad key, a bad proof."""


# --------------------------------------------------------------------------------------------------
# §1 fields, §2 leaves, §3 tree hashing
# --------------------------------------------------------------------------------------------------

NULL_FIELD = b"\xff\xff\xff\xff"
EVENT_TAG = b"PGAKEV01"
BLOCK_TAG = b"PGAKBL01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

# The 22 fields of §2, in leaf order, under the names §6 gives them.
EVENT_FIELDS: tuple[str, ...] = (
    "id", "xid", "statement_ts_us", "op", "relid", "schema_name", "table_name", "partition_name",
    "pk", "row_data", "old_values", "statement", "xact_start_us", "session_role", "acting_role",
    "actor", "context", "context_raw", "application_name", "client_addr", "client_port", "backend_pid",
)  # fmt: skip


def field(value: bytes | None) -> bytes:
    """§1: a 4-byte big-endian length and the bytes, or ff ff ff ff for SQL NULL."""
    if value is None:
        return NULL_FIELD
    if len(value) >= 0xFFFFFFFF:  # that length would read as NULL (or not fit): not encodable
        raise Rejected("field too long to encode")
    return len(value).to_bytes(4, "big") + value


def _leaf_input_from_values(values: Sequence[bytes | None]) -> bytes:
    return EVENT_TAG + b"".join(field(value) for value in values)


def leaf_input(fields: Mapping[str, str | None]) -> bytes:
    """§2: PGAKEV01 and the 22 fields, from their §1 text form (str, or None for NULL)."""
    if set(fields) != set(EVENT_FIELDS):
        missing = sorted(set(EVENT_FIELDS) - set(fields))
        extra = sorted(set(fields) - set(EVENT_FIELDS))
        raise Rejected(f"event fields wrong: missing {missing}, unknown {extra}")
    values: list[bytes | None] = []
    for name in EVENT_FIELDS:
        value = fields[name]
        if value is not None and not isinstance(value, str):
            raise Rejected(f"event field {name} is neither a string nor null")
        try:
            values.append(None if value is None else value.encode("utf-8"))
        except UnicodeEncodeError as exc:  # a lone surrogate from JSON has no UTF-8 form
            raise Rejected(f"event field {name} is not encodable as UTF-8") from exc
    return _leaf_input_from_values(values)


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH over leaf *hashes* (what blocks store), split at the largest power of two below n."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(tree_root(leaves[:split]), tree_root(leaves[split:]))


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """Root of a tree from its compact range (perfect subtrees, largest first): fold from the right."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for subtree in reversed(frontier[:-1]):
        root = node_hash(subtree, root)
    return root


class _Tree:
    """An append-only tree kept as its compact range, remembering its root at every size it passed.

    It may start from a retired prefix's frontier (§7.1): roots below that size are then unknown.
    """

    def __init__(self, frontier: Sequence[bytes] = (), size: int = 0) -> None:
        self._frontier = list(frontier)
        self.size = size
        self.start_size = size
        self._roots = {size: frontier_root(self._frontier)}

    def append(self, leaf: bytes) -> None:
        merged, n = leaf, self.size
        while n & 1:  # every set low bit is a perfect subtree the new leaf completes
            merged = node_hash(self._frontier.pop(), merged)
            n >>= 1
        self._frontier.append(merged)
        self.size += 1
        self._roots[self.size] = frontier_root(self._frontier)

    def root(self) -> bytes:
        return self._roots[self.size]

    def root_at(self, size: int) -> bytes | None:
        return self._roots.get(size)

    def frontier(self) -> list[bytes]:
        return list(self._frontier)


# --------------------------------------------------------------------------------------------------
# §4 blocks
# --------------------------------------------------------------------------------------------------

# The block_hash inputs of §4, under the names of tests/vectors/encoding/block-*.json.
BLOCK_HASH_FIELDS: tuple[str, ...] = (
    "block_no", "first_seq", "tree_size", "root", "last_xid", "last_event_id", "last_xid_events",
    "last_xid_sealed", "prev_hash", "sealed_at_us",
)  # fmt: skip
_HASH_VALUED = frozenset({"root", "prev_hash"})


def _block_value(name: str, value: Any) -> bytes | None:
    if value is None:
        return None
    if name in _HASH_VALUED:  # raw bytes, or hex as in the vectors
        return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else bytes.fromhex(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Rejected(f"block field {name} is not a number")
    # Numbers are decimal text; sealed_at_us may also be 'infinity' / '-infinity' (§9), kept as given.
    return str(value).encode("ascii")


def block_hash_input(block: Mapping[str, Any]) -> bytes:
    """§4: PGAKBL01 and ten fields; root/prev_hash as bytes or hex (None for NULL), numbers as int or text."""
    return BLOCK_TAG + b"".join(field(_block_value(name, block[name])) for name in BLOCK_HASH_FIELDS)


def block_hash(block: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(block_hash_input(block)).digest()


# --------------------------------------------------------------------------------------------------
# RFC 9162 §2.1.3.2 / §2.1.4.2 proof checking (hash lengths are the caller's business: the RFC
# vectors use short placeholder roots where only sizes matter)
# --------------------------------------------------------------------------------------------------


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def check_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Raise Rejected unless `path` proves `leaf` at `index` in the tree of `size` with `root`."""
    if not 0 <= index < size:
        raise Rejected(f"leaf index {index} outside a tree of size {size}")
    if len(leaf) != 32:  # a leaf hash is a SHA-256 digest (a single-leaf tree would otherwise prove b"" == b"")
        raise Rejected("leaf hash is not 32 bytes")
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise Rejected("inclusion path too long")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Rejected("inclusion path too short")
    if node != root:
        raise Rejected("inclusion path does not lead to the root")


def check_consistency(size1: int, size2: int, path: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise Rejected unless `path` proves the tree (size1, root1) a prefix of (size2, root2)."""
    if size1 < 0 or size2 < size1:
        raise Rejected(f"old size {size1} is not at most new size {size2}")
    if size1 == 0:  # §6: a proof from the empty tree proves nothing
        raise Rejected("consistency proof from size 0")
    if size1 == size2:
        if path or root1 != root2:
            raise Rejected("between equal sizes the proof must be empty and the roots equal")
        return
    if not path:
        raise Rejected("empty consistency proof")
    nodes = list(path)
    if size1 & (size1 - 1) == 0:  # the old tree is a perfect subtree the path leaves out
        nodes.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old, new = nodes[0], nodes[0]
    for node in nodes[1:]:
        if sn == 0:
            raise Rejected("consistency proof too long")
        if fn & 1 or fn == sn:
            old, new = node_hash(node, old), node_hash(node, new)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            new = node_hash(new, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Rejected("consistency proof too short")
    if old != root1 or new != root2:
        raise Rejected("consistency proof does not give both roots")


# --------------------------------------------------------------------------------------------------
# §5 keys and signed checkpoints
# --------------------------------------------------------------------------------------------------

_SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
_SIZE_LINE = re.compile(r"0|[1-9][0-9]*")
_KEY_HASH = re.compile(r"[0-9a-f]{8}")
_ED25519_ALG = b"\x01"


def _strict_b64(text: str, what: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), canonical: re-encoding must give the same text."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(f"{what} is not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:  # unused bits set, or missing padding
        raise Rejected(f"{what} is not canonical base64")
    return raw


def _valid_key_name(name: str) -> bool:
    return bool(name) and name.isprintable() and "+" not in name and not any(c.isspace() for c in name)


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519_ALG + public).digest()[:4]


@dataclass(frozen=True)
class PublicKey:
    name: str
    key_hash: bytes
    public: bytes

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """`<name>+<8 hex>+<base64(0x01 || 32-byte key)>`; one trailing newline (a .pub file's) is allowed."""
        line = text[:-1] if text.endswith("\n") else text
        parts = line.split("+", 2)  # the base64 key may itself hold '+': only the first two separate
        if len(parts) != 3:
            raise Rejected("public key is not name+hash+key")
        name, hash_hex, key_b64 = parts
        if not _valid_key_name(name):
            raise Rejected("public key name is empty or not printable without spaces")
        if not _KEY_HASH.fullmatch(hash_hex):
            raise Rejected("public key hash is not 8 lower-case hex digits")
        raw = _strict_b64(key_b64, "public key")
        if len(raw) != 33 or raw[:1] != _ED25519_ALG:
            raise Rejected("public key is not 0x01 and 32 bytes (Ed25519)")
        public = raw[1:]
        if _key_hash(name, public) != bytes.fromhex(hash_hex):
            raise Rejected("public key hash does not match its name and key")
        return cls(name=name, key_hash=bytes.fromhex(hash_hex), public=public)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


@dataclass(frozen=True)
class _SignedNote:
    text: str  # what the signatures cover: the body lines, each with its newline
    body: list[str]
    signatures: list[tuple[str, bytes]]  # (key name, key hash || signature)


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise Rejected("a line after the empty line is not a signature line")
    name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not space or not _valid_key_name(name):
        raise Rejected("signature line without a valid key name")
    raw = _strict_b64(encoded, "signature")
    if len(raw) < 5:  # a key hash and at least one byte of signature
        raise Rejected("signature too short")
    return name, raw


def _split_note(note: str) -> _SignedNote:
    """C2SP signed note: text, one empty line, then nothing but signature lines, each ending in newline."""
    if not isinstance(note, str):
        raise Rejected("note is not text")
    if any((ch < " " and ch != "\n") or ch == "\x7f" for ch in note):  # no ASCII control character but newline
        raise Rejected("note holds control characters")
    if not note.endswith("\n"):
        raise Rejected("note does not end in a newline")
    body, blank, signature_block = note.partition("\n\n")
    if not blank or not signature_block:
        raise Rejected("note has no empty line followed by signatures")
    signatures = [_parse_signature_line(line) for line in signature_block[:-1].split("\n")]
    return _SignedNote(text=body + "\n", body=body.split("\n"), signatures=signatures)


def _checkpoint_body(lines: Sequence[str]) -> Checkpoint:
    """tlog-checkpoint body: origin, size, root, then extension lines (accepted, ignored)."""
    if len(lines) < 3:
        raise Rejected("checkpoint body has fewer than three lines")
    origin, size_line, root_line = lines[:3]
    if not origin:
        raise Rejected("checkpoint origin is empty")
    if not _SIZE_LINE.fullmatch(size_line):
        raise Rejected("checkpoint size line is not a decimal number without sign or leading zeros")
    root = _strict_b64(root_line, "checkpoint root")
    if len(root) != 32:
        raise Rejected("checkpoint root is not 32 bytes")
    return Checkpoint(origin=origin, size=int(size_line), root=root)


def parse_checkpoint(note: str) -> Checkpoint:
    """Every check of open_checkpoint except the signature (for a verifier given no key)."""
    return _checkpoint_body(_split_note(note).body)


def open_checkpoint(note: str, key: PublicKey) -> Checkpoint:
    """Parse a signed checkpoint and accept it only if a signature line of `key` verifies."""
    signed = _split_note(note)
    checkpoint = _checkpoint_body(signed.body)
    message = signed.text.encode("utf-8")
    ours = [raw for name, raw in signed.signatures if name == key.name and raw[:4] == key.key_hash]
    # Lines of other keys (other name or key hash) are skipped; a line of this key that fails rejects the note.
    if not ours:
        raise Rejected(f"no signature line of key {key.name}")
    if not all(key.verifies(message, raw[4:]) for raw in ours):
        raise Rejected(f"a signature line of key {key.name} does not verify")
    return checkpoint


# --------------------------------------------------------------------------------------------------
# §6 proof files
# --------------------------------------------------------------------------------------------------

INCLUSION_FORMAT = "pgaudit-kit-inclusion-proof/1"
CONSISTENCY_FORMAT = "pgaudit-kit-consistency-proof/1"


def _require_keys(document: Mapping[str, Any], keys: set[str]) -> None:
    # §6 says `event` has *exactly* its 22 fields but says no such thing of the document: other keys are ignored.
    if not isinstance(document, Mapping) or not keys <= set(document):
        raise Rejected(f"proof document lacks one of the keys {sorted(keys)}")


def _require_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:  # JSON true is not a number
        raise Rejected(f"{what} is not a non-negative JSON integer")
    return value


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Rejected(f"{what} is not a string")
    return value


def _proof_hashes(value: Any) -> list[bytes]:
    if not isinstance(value, list):
        raise Rejected("proof is not a list")
    hashes = [_strict_b64(_require_str(item, "proof hash"), "proof hash") for item in value]
    if any(len(item) != 32 for item in hashes):
        raise Rejected("a proof hash is not 32 bytes")
    return hashes


def verify_inclusion_proof(document: Mapping[str, Any], key: PublicKey) -> None:
    """§6 inclusion proof: leaf from `event`, signed checkpoint at `tree_size`, RFC 9162 path from `seq`."""
    _require_keys(document, {"format", "event", "seq", "tree_size", "proof", "checkpoint"})
    if document["format"] != INCLUSION_FORMAT:
        raise Rejected("not an inclusion proof of format 1")
    event = document["event"]
    if not isinstance(event, Mapping):
        raise Rejected("event is not an object")
    leaf = leaf_hash(leaf_input(event))
    seq = _require_int(document["seq"], "seq")
    size = _require_int(document["tree_size"], "tree_size")
    path = _proof_hashes(document["proof"])
    checkpoint = open_checkpoint(_require_str(document["checkpoint"], "checkpoint"), key)
    if checkpoint.size != size:
        raise Rejected("the checkpoint's size is not tree_size")
    check_inclusion(leaf, seq, size, path, checkpoint.root)


def verify_consistency_proof(document: Mapping[str, Any], key: PublicKey) -> None:
    """§6 consistency proof: two checkpoints of one origin signed by `key`, RFC 9162 proof between them."""
    _require_keys(document, {"format", "old_checkpoint", "new_checkpoint", "proof"})
    if document["format"] != CONSISTENCY_FORMAT:
        raise Rejected("not a consistency proof of format 1")
    old = open_checkpoint(_require_str(document["old_checkpoint"], "old_checkpoint"), key)
    new = open_checkpoint(_require_str(document["new_checkpoint"], "new_checkpoint"), key)
    if old.origin != new.origin:
        raise Rejected("the checkpoints are of different origins")
    check_consistency(old.size, new.size, _proof_hashes(document["proof"]), old.root, new.root)


# --------------------------------------------------------------------------------------------------
# Reading the log (§2.1 field expressions, §4 block columns, §5 origin)
# --------------------------------------------------------------------------------------------------


def _micros_sql(column: str) -> str:
    # §1: µs since the epoch; §9: infinite timestamps become the text infinity/-infinity and huge ones their
    # exact decimal (the spec's ::bigint would raise on both). EXTRACT(epoch) is exact numeric to the µs.
    return (
        f"CASE WHEN {column} = 'infinity' THEN 'infinity' WHEN {column} = '-infinity' THEN '-infinity' "
        f"ELSE trunc(EXTRACT(epoch FROM {column}) * 1000000)::text END"
    )


# §2's sources, as the text expressions §1 prescribes.
EVENT_FIELD_SQL: dict[str, str] = {
    "id": "e.id::text",
    "xid": "e.xid::text",
    "statement_ts_us": _micros_sql("e.statement_ts"),
    "op": "e.op::text",
    "relid": "e.relid::text",
    "schema_name": "e.schema_name",
    "table_name": "e.table_name",
    "partition_name": "e.partition_name",
    "pk": "e.pk::text",
    "row_data": "e.row_data::text",
    "old_values": "e.old_values::text",
    "statement": "e.statement",
    "xact_start_us": _micros_sql("t.xact_start"),
    "session_role": "t.session_role",
    "acting_role": "t.acting_role",
    "actor": "t.actor",
    "context": "t.context::text",
    "context_raw": "t.context_raw",
    "application_name": "t.application_name",
    "client_addr": "textin(inet_out(t.client_addr))",
    "client_port": "t.client_port::text",
    "backend_pid": "t.backend_pid::text",
}

_EVENTS_SQL = (
    "SELECT e.xid::text, e.id, "
    + ", ".join(f"convert_to({EVENT_FIELD_SQL[name]}, 'UTF8')" for name in EVENT_FIELDS)
    + " FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid ORDER BY e.xid, e.id"
)

# Arrays come with their shape so that a malformed one (§9) is seen rather than silently flattened.
_BLOCKS_SQL = (
    "SELECT b.block_no, b.first_seq, b.tree_size, b.root,"
    " array_ndims(b.frontier), array_lower(b.frontier, 1), ARRAY(SELECT unnest(b.frontier)),"
    " b.last_xid::text, b.last_event_id, b.last_xid_events, b.last_xid_sealed,"
    " array_ndims(b.event_ids), array_lower(b.event_ids, 1), ARRAY(SELECT unnest(b.event_ids)),"
    f" b.leaves, b.prev_hash, b.block_hash, {_micros_sql('b.sealed_at')}"
    " FROM pgaudit_kit.block b ORDER BY b.block_no"
)


@dataclass(frozen=True)
class _Event:
    xid: int
    id: int
    values: tuple[bytes | None, ...]
    leaf: bytes

    @property
    def position(self) -> tuple[int, int]:
        return (self.xid, self.id)

    def control(self) -> dict[str, Any] | None:
        """row_data of a control event (op K) as JSON, or None."""
        if self.values[3] != b"K" or self.values[9] is None:
            return None
        try:
            data = json.loads(self.values[9])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class _Block:
    block_no: int
    first_seq: int
    tree_size: int
    root: bytes | None  # NULL only if a superuser dropped the column's NOT NULL: a finding, not an error
    frontier: list[bytes | None]
    frontier_well_formed: bool
    last_xid: int
    last_event_id: int
    last_xid_events: int
    last_xid_sealed: int
    event_ids: list[int | None]
    ids_well_formed: bool
    leaves: bytes
    prev_hash: bytes | None
    block_hash: bytes | None
    sealed_at_us: str | None

    @property
    def position(self) -> tuple[int, int]:
        return (self.last_xid, self.last_event_id)

    def stored_leaf(self, index: int) -> bytes:
        return self.leaves[32 * index : 32 * index + 32]

    def recomputed_hash(self) -> bytes:
        return block_hash({**{name: getattr(self, name) for name in BLOCK_HASH_FIELDS[:-1]},
                           "sealed_at_us": self.sealed_at_us})  # fmt: skip


def _read_events(conn: psycopg.Connection) -> list[_Event]:
    events = []
    for xid, event_id, *values in conn.execute(_EVENTS_SQL):
        leaf = leaf_hash(_leaf_input_from_values(values))
        events.append(_Event(xid=int(xid), id=event_id, values=tuple(values), leaf=leaf))
    events.sort(key=lambda event: event.position)  # numerically, whatever the collation did
    return events


def _one_dimensional(ndims: int | None, lower: int | None) -> bool:
    return ndims == 1 and lower == 1


def _bytes(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


def _read_blocks(conn: psycopg.Connection) -> list[_Block]:
    blocks = []
    for row in conn.execute(_BLOCKS_SQL):
        (no, first, size, root, f_dims, f_lower, frontier, last_xid, last_id, xid_events, xid_sealed,
         i_dims, i_lower, ids, leaves, prev_hash, stored_hash, sealed_at) = row  # fmt: skip
        blocks.append(_Block(
            block_no=no, first_seq=first, tree_size=size, root=_bytes(root), frontier=list(frontier),
            frontier_well_formed=_one_dimensional(f_dims, f_lower) or (f_dims is None and size == 0),
            last_xid=int(last_xid), last_event_id=last_id, last_xid_events=xid_events,
            last_xid_sealed=xid_sealed, event_ids=list(ids), ids_well_formed=_one_dimensional(i_dims, i_lower),
            leaves=_bytes(leaves) or b"", prev_hash=_bytes(prev_hash), block_hash=_bytes(stored_hash),
            sealed_at_us=sealed_at,
        ))  # fmt: skip
    return blocks


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def percent_encode(raw: bytes) -> str:
    """§5: every byte but RFC 3986's unreserved ones as %XX, upper-case hex."""
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in raw)


def _scalar(conn: psycopg.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None  # these queries always return one row
    return row[0]


def _read_origin(conn: psycopg.Connection) -> str:
    system_id = _scalar(conn, "SELECT system_identifier::text FROM pg_control_system()")
    database = _scalar(conn, "SELECT convert_to(current_database(), 'UTF8')")
    installs = conn.execute("SELECT install_id::text FROM pgaudit_kit.install").fetchall()
    install_id = installs[0][0] if len(installs) == 1 else "?"  # no single install: no checkpoint matches
    return f"pgaudit-kit/{system_id}/{percent_encode(bytes(database))}/{install_id}"


@contextmanager
def _snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """One read-only snapshot, and only built-in functions: search_path pg_catalog (a tamperer's functions
    in other schemas must not be what computes the evidence)."""
    from psycopg import pq  # a runtime import keeps the pure parts of this module free of psycopg

    fresh = conn.info.transaction_status == pq.TransactionStatus.IDLE
    with conn.transaction():
        if fresh:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)")
        yield


# --------------------------------------------------------------------------------------------------
# Checking the log (§3, §4, §7.1, §8, §9)
# --------------------------------------------------------------------------------------------------


@dataclass
class Report:
    findings: list[tuple[str, str]] = dataclass_field(default_factory=list)
    kinds: Counter[str] = dataclass_field(default_factory=Counter)
    tree_size: int = 0

    def add(self, kind: str, message: str) -> None:
        self.findings.append((kind, message))
        self.kinds[kind] += 1

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass
class _Start:
    """Where checking begins: the empty log, or the block a retirement kept (§7.1)."""

    position: tuple[int, int] = (0, 0)
    frontier: list[bytes] = dataclass_field(default_factory=list)
    size: int = 0
    block: _Block | None = None

    @property
    def next_block_no(self) -> int:
        return 0 if self.block is None else self.block.block_no + 1


def _retire_claim(event: _Event) -> tuple[int, int, bytes, _Event] | None:
    """(block_no, tree_size, block_hash, event) of a well-formed `retire` control event (§7.1)."""
    data = event.control()
    if data is None or data.get("action") != "retire":
        return None
    block_no, size, hash_hex = _count(data.get("block_no")), _count(data.get("tree_size")), data.get("block_hash")
    if block_no is None or size is None or not isinstance(hash_hex, str):
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", hash_hex):
        return None
    return block_no, size, bytes.fromhex(hash_hex), event


def _count(value: Any) -> int | None:
    """A JSON number or string of at most 18 decimal digits (§7.1), else None."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return int(text) if isinstance(text, str) and re.fullmatch(r"[0-9]{1,18}", text) else None


@dataclass(frozen=True)
class _Retirements:
    """What corroborates a retire event (§7.1): the database's own rows of pgaudit_kit.retirement, and for each
    retire event the latest time its blocks may have been sealed (its statement_ts minus the longest retention
    period set by then; None with none set)."""

    recorded: frozenset[tuple[int, int, bytes]]  # (xid, tree_size, block_hash)
    cutoff_us: dict[int, int | None]  # retire event id -> µs


def _read_retirements(conn: psycopg.Connection) -> _Retirements:
    recorded = frozenset((int(x), int(n), bytes(h)) for x, n, h in conn.execute(
        "SELECT xid::text, tree_size, block_hash FROM pgaudit_kit.retirement"))
    cutoffs = {int(i): None if c is None else int(c) for i, c in conn.execute(
        "SELECT e.id, (EXTRACT(epoch FROM e.statement_ts - (SELECT max(p.min_age) FROM pgaudit_kit.retention p"
        " WHERE p.set_at <= e.statement_ts)) * 1000000)::bigint FROM pgaudit_kit.event e"
        " WHERE e.op = 'K' AND e.row_data->>'action' = 'retire' AND isfinite(e.statement_ts)")}
    return _Retirements(recorded, cutoffs)


def _sealed_before(block: _Block, cutoff_us: int | None) -> bool:
    return cutoff_us is not None and block.sealed_at_us is not None and \
        re.fullmatch(r"-?[0-9]+", block.sealed_at_us) is not None and int(block.sealed_at_us) <= cutoff_us


def _retirement_start(events: Sequence[_Event], blocks: Sequence[_Block], retirements: _Retirements,
                      report: Report) -> _Start:
    claims = [claim for claim in map(_retire_claim, events) if claim is not None]
    if not claims:
        return _Start()
    block_no, size, claimed_hash, event = max(claims, key=lambda claim: (claim[1], claim[3].id))
    if (event.xid, size, claimed_hash) not in retirements.recorded:
        report.add("retirement_unrecorded", f"the retirement of event {event.id} has no pgaudit_kit.retirement row")
    if not all(_sealed_before(b, retirements.cutoff_us.get(event.id)) for b in blocks if b.block_no <= block_no):
        report.add("retirement_early", f"the retirement of event {event.id} removed history younger than the "
                   "retention period, or with none set")
    kept = next((block for block in blocks if block.block_no == block_no), None)
    if kept is None:
        report.add("retirement_boundary", f"block {block_no}, where the retirement ends, is gone")
        return _Start()
    frontier = [h for h in kept.frontier if h is not None and len(h) == 32]
    if not (kept.frontier_well_formed and len(frontier) == len(kept.frontier) == size.bit_count()
            and frontier_root(frontier) == kept.root and kept.tree_size == size
            and kept.block_hash == claimed_hash and kept.recomputed_hash() == claimed_hash):  # fmt: skip
        report.add("retirement_boundary", f"block {block_no} is not the block that was retired")
        return _Start()
    return _Start(position=kept.position, frontier=frontier, size=size, block=kept)


def _check_block_shape(block: _Block, expected_no: int, tree: _Tree, report: Report) -> None:
    name = f"block {block.block_no}"
    if block.block_no != expected_no:
        report.add("block_sequence", f"block {expected_no} is missing: the next stored block is {block.block_no}")
    if not block.ids_well_formed:
        report.add("block_malformed", f"{name}: event_ids is not a one-dimensional array from 1")
    if len(block.leaves) != 32 * len(block.event_ids):
        report.add("block_malformed", f"{name}: leaves is not 32 bytes per event id")
    # §3 rule 3: first_seq is the number of leaves before the block, tree_size that plus its events.
    if block.first_seq != tree.size:
        report.add("block_first_seq", f"{name} starts at {block.first_seq}, the log before it has {tree.size}")
    grown = tree.size + len(block.event_ids)
    if block.tree_size != grown:
        report.add("block_size", f"{name}: tree_size {block.tree_size}, its leaves give {grown}")


def _check_block_events(block: _Block, in_range: Sequence[_Event], seq0: int, report: Report) -> None:
    """§3 rule 1: exactly the stored events of the block's range, listed in order, with its leaves."""
    stored = {event.id: event for event in in_range}
    listed: set[int] = set()
    for index, event_id in enumerate(block.event_ids):
        event = None if event_id is None else stored.get(event_id)  # a NULL id names no stored event
        if event_id is not None:
            listed.add(event_id)
        where = f"event {event_id} (seq {seq0 + index}, block {block.block_no})"
        if event is None:
            report.add("event_missing", f"{where} is gone")
        elif event.leaf != block.stored_leaf(index):
            report.add("event_modified", f"{where} differs from what was sealed")
    for event in in_range:
        if event.id not in listed:
            report.add("event_inserted", f"event {event.id} lies inside block {block.block_no} but was never sealed")


def _check_block_hashes(block: _Block, previous_hash: bytes | None, tree: _Tree, report: Report) -> None:
    name = f"block {block.block_no}"
    # §4: the stored frontier is the sealer's cache, checked only where a verifier starts from it (§7.1); an
    # edited one shows in the next block's root.
    if block.root != tree.root():
        report.add("block_root", f"{name}: root does not match its leaves")
    if block.block_hash != block.recomputed_hash():
        report.add("block_hash", f"{name}: fields do not match block_hash")
    if block.prev_hash != previous_hash:
        report.add("block_chain", f"{name}: prev_hash is not the previous block's hash")


def _check_unsealed(last: _Block | None, rest: Sequence[_Event], report: Report) -> None:
    """§3 rule 2: after the last block, its transaction may only hold the events it had not yet sealed."""
    if last is None:
        return
    allowed = last.last_xid_events - last.last_xid_sealed
    for event in rest:
        if event.xid > last.last_xid:
            continue  # a later transaction: simply not sealed yet
        if event.xid == last.last_xid and allowed > 0:
            allowed -= 1  # one of the events the block's transaction had left to seal
            continue
        # (In (xid, id) order nothing after the position has a smaller xid; kept as the rule states it.)
        report.add("event_inserted", f"event {event.id} was added to transaction {event.xid} after it was sealed")


def _check_log(events: Sequence[_Event], blocks: Sequence[_Block], start: _Start, report: Report) -> _Tree:
    tree = _Tree(start.frontier, start.size)
    index = 0
    while index < len(events) and events[index].position <= start.position:  # inside retired history
        report.add("event_inserted", f"event {events[index].id} lies inside retired history")
        index += 1
    expected_no, last = start.next_block_no, start.block
    previous_hash = None if last is None else last.block_hash
    for block in blocks:
        if block.block_no < expected_no and start.block is not None:
            continue  # blocks before the retired one are the archive's business
        seq0 = tree.size
        _check_block_shape(block, expected_no, tree, report)
        in_range = []
        while index < len(events) and events[index].position <= block.position:
            in_range.append(events[index])
            index += 1
        _check_block_events(block, in_range, seq0, report)
        for leaf_index in range(len(block.event_ids)):  # the tree is made of the sealed leaves (§3 rule 3)
            tree.append(block.stored_leaf(leaf_index))
        _check_block_hashes(block, previous_hash, tree, report)
        expected_no, previous_hash, last = block.block_no + 1, block.block_hash, block
    _check_unsealed(last, events[index:], report)
    return tree


# --------------------------------------------------------------------------------------------------
# Checkpoints in the database and in the anchor folder (§5, §8)
# --------------------------------------------------------------------------------------------------

def anchor_folder(anchor_dir: Path, origin: str) -> Path:
    return anchor_dir / hashlib.sha256(origin.encode("utf-8")).hexdigest()[:24]


def _previous_origins(events: Sequence[_Event]) -> set[str]:
    """`origin_change` control events name origins whose checkpoints are of this log (§8 event ops)."""
    origins = set()
    for event in events:
        data = event.control()
        if data and data.get("action") == "origin_change" and isinstance(data.get("from"), str):
            origins.add(data["from"])
    return origins


@dataclass(frozen=True)
class _CheckpointContext:
    key: PublicKey | None
    origins: frozenset[str]
    tree: _Tree
    report: Report


def _check_note(label: str, raw: bytes, ctx: _CheckpointContext) -> Checkpoint | None:
    """Signature, origin and root of one stored or anchored note; the checkpoint when it opened."""
    try:
        note = raw.decode("utf-8")
        checkpoint = parse_checkpoint(note) if ctx.key is None else open_checkpoint(note, ctx.key)
    except (UnicodeDecodeError, Rejected) as exc:
        ctx.report.add("checkpoint_signature", f"{label}: {exc}")
        return None
    if checkpoint.origin not in ctx.origins:
        ctx.report.add("checkpoint_origin", f"{label} is of {checkpoint.origin}")
        return checkpoint
    if checkpoint.size > ctx.tree.size:
        ctx.report.add("checkpoint_beyond_log", f"{label} covers {checkpoint.size} events, the log has {ctx.tree.size}")
    elif checkpoint.size >= ctx.tree.start_size:  # below it, history is retired: signature and origin only
        root = ctx.tree.root_at(checkpoint.size)
        if root is None:
            ctx.report.add("checkpoint_unchecked", f"{label}: no root at size {checkpoint.size}")
        elif root != checkpoint.root:
            ctx.report.add("checkpoint_root", f"{label}: the log's first {checkpoint.size} events differ")
    return checkpoint


def _check_anchor_folder(folder: Path, origin: str, stored: set[bytes], ctx: _CheckpointContext) -> None:
    label_file = folder / "ORIGIN"  # a folder without a label is not "labelled for another origin"
    if label_file.is_file() and label_file.read_bytes() != (origin + "\n").encode("utf-8"):
        ctx.report.add("anchor_origin", f"{folder} is labelled for another origin than {origin}")
    for path in sorted(folder.glob("*.note")):  # every note file, whatever its name (§5)
        raw = path.read_bytes()
        checkpoint = _check_note(f"anchored checkpoint {path.name}", raw, ctx)
        if checkpoint is None or raw in stored:
            continue
        if checkpoint.origin in ctx.origins and checkpoint.size >= ctx.tree.start_size:
            ctx.report.add("checkpoint_missing", f"anchored checkpoint {path.name} is not in the database")


# --------------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------------


def verify_database(conn: psycopg.Connection, key: PublicKey | None = None, anchor_dir: Path | None = None) -> Report:
    """Recompute the log of the database behind `conn` and report the log-integrity findings of §8."""
    report = Report()
    with _snapshot(conn):
        origin = _read_origin(conn)
        events = _read_events(conn)
        blocks = _read_blocks(conn)
        notes = conn.execute("SELECT id, note FROM pgaudit_kit.checkpoint ORDER BY id").fetchall()
        retirements = _read_retirements(conn)
    start = _retirement_start(events, blocks, retirements, report)
    tree = _check_log(events, blocks, start, report)
    report.tree_size = tree.size
    origins = frozenset({origin} | _previous_origins(events))
    ctx = _CheckpointContext(key=key, origins=origins, tree=tree, report=report)
    for checkpoint_id, note in notes:
        _check_note(f"checkpoint #{checkpoint_id}", bytes(note), ctx)
    if anchor_dir is not None:
        stored = {bytes(note) for _, note in notes}
        # §5: also the folders of earlier installations in this database (same cluster and database, another
        # install id), found by their ORIGIN labels: their notes must be reported, not ignored
        same_database = origin.rsplit("/", 1)[0] + "/"
        for label in sorted(anchor_dir.glob("*/ORIGIN")):
            text = label.read_bytes().decode("utf-8", "replace").strip()
            if text.startswith(same_database) and text != origin:
                _check_anchor_folder(label.parent, text, stored, ctx)
        for each in sorted(origins):
            folder = anchor_folder(anchor_dir, each)
            if folder.is_dir():
                _check_anchor_folder(folder, each, stored, ctx)
    return report
