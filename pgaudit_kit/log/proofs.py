"""Inclusion and consistency proofs: produced from the database, checked with no database at all.

An inclusion proof file holds the event's 22 fields (so the leaf is recomputed, not trusted), its seq,
the audit path and the signed checkpoint whose tree contains it. A consistency proof file holds two
signed checkpoints and the RFC 9162 proof that the older tree is a prefix of the newer one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import psycopg

from ..core import encoding, merkle, signing
from ..core.errors import UsageError
from ..pg import db, reviews
from . import retirement, sealing

INCLUSION_FORMAT = "pgaudit-kit-inclusion-proof/1"
CONSISTENCY_FORMAT = "pgaudit-kit-consistency-proof/1"


def block_leaves(conn: psycopg.Connection[Any], first: int, size: int) -> Iterator[bytes]:
    """The sealed leaves at tree positions first .. size-1, block by block, from a cursor: constant memory."""
    with conn.cursor(name="pgaudit_kit_proof_leaves", binary=True) as cur:
        cur.itersize = 20
        cur.execute("SELECT first_seq, leaves FROM pgaudit_kit.block WHERE tree_size > %s AND first_seq < %s "
                    "ORDER BY block_no", (first, size))
        for first_seq, leaves in cur:
            lo, hi = max(first - int(first_seq), 0), size - int(first_seq)
            yield bytes(leaves)[lo * merkle.HASH_SIZE:hi * merkle.HASH_SIZE]


def proof_hashes(conn: psycopg.Connection[Any], ranges: list[merkle.Range], size: int) -> list[bytes]:
    """The roots of *ranges* of the first *size* sealed leaves: the hashes of a proof (merkle.inclusion_ranges,
    consistency_ranges). After a retirement the retired leaves are known only by the retired tree's frontier,
    which is all a proof about later leaves or later tree sizes needs."""
    base = retirement.base_frontier(conn)
    try:
        return merkle.range_roots(ranges, block_leaves(conn, base.size, size), base)
    except ValueError as exc:
        raise UsageError(f"{exc} (prove it from the archive: prove ID --archive DIR)") from None


def _checkpoint_covering(conn: psycopg.Connection[Any], seq: int) -> tuple[int, str]:
    row = conn.execute("SELECT tree_size, note FROM pgaudit_kit.checkpoint WHERE tree_size > %s "
                       "ORDER BY tree_size, id LIMIT 1", (seq,)).fetchone()
    if row is None:
        raise UsageError(f"no checkpoint covers seq {seq} yet (run: pgaudit-kit checkpoint --key FILE)")
    return int(row[0]), sealing.stored_note(row[1])


def prove_inclusion(conn: psycopg.Connection[Any], event_id: int) -> dict[str, Any]:
    fields_sql = ", ".join(encoding.EVENT_FIELD_SQL)
    with db.translated_errors(), reviews.reviewed_read(conn, "prove", {"event_id": event_id}):
        event = conn.execute(
            f"SELECT e.xid::text, {fields_sql} FROM pgaudit_kit.event e "  # noqa: S608 -- constant SQL
            "LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid WHERE e.id = %s", (event_id,)).fetchone()
        if event is None:
            # recorded in a chunk (revision 0010): sealing writes it into pgaudit_kit.event
            if db.has_kit_relation(conn, "event_chunk") and conn.execute(
                    "SELECT FROM pgaudit_kit.event_chunk c WHERE %s BETWEEN c.id AND c.id + c.n_events - 1",
                    (event_id,)).fetchone() is not None:
                raise UsageError(f"event {event_id} is not sealed yet (run: pgaudit-kit seal)")
            if retirement.newest(conn) is not None:
                raise UsageError(f"event {event_id} is not in the database: if it was retired, prove it from its "
                                 "archive (prove --archive DIR)")
            raise UsageError(f"event {event_id} does not exist")
        block = conn.execute(
            "SELECT first_seq, array_position(ARRAY(SELECT unnest(event_ids)), %s) FROM pgaudit_kit.block "
            "WHERE (last_xid, last_event_id) >= (%s::text::xid8, %s) ORDER BY last_xid, last_event_id LIMIT 1",
            (event_id, event[0], event_id)).fetchone()
        if block is None or block[1] is None:
            raise UsageError(f"event {event_id} is not sealed yet (run: pgaudit-kit seal)")
        seq = int(block[0]) + int(block[1]) - 1
        size, note = _checkpoint_covering(conn, seq)
        proof = proof_hashes(conn, merkle.inclusion_ranges(seq, size), size)
    return {
        "format": INCLUSION_FORMAT,
        "event": dict(zip(encoding.EVENT_FIELDS, event[1:], strict=True)),
        "seq": seq,
        "tree_size": size,
        "proof": [base64.b64encode(h).decode() for h in proof],
        "checkpoint": note,
    }


def prove_consistency(conn: psycopg.Connection[Any], old_size: int, new_size: int | None) -> dict[str, Any]:
    with (db.translated_errors(),
          reviews.reviewed_read(conn, "prove", {"consistency_from": old_size, "to": new_size})):
        old = conn.execute("SELECT note FROM pgaudit_kit.checkpoint WHERE tree_size = %s ORDER BY id LIMIT 1",
                           (old_size,)).fetchone()
        new = conn.execute(
            "SELECT tree_size, note FROM pgaudit_kit.checkpoint WHERE tree_size = COALESCE(%s, "
            "(SELECT max(tree_size) FROM pgaudit_kit.checkpoint)) ORDER BY id DESC LIMIT 1", (new_size,)).fetchone()
        if old is None or new is None:
            raise UsageError("both tree sizes must have a checkpoint (see pgaudit_kit.checkpoint)")
        size2 = int(new[0])
        if old_size > size2:
            raise UsageError(f"size {old_size} is newer than size {size2}")
        proof = proof_hashes(conn, merkle.consistency_ranges(old_size, size2), size2)
    return {"format": CONSISTENCY_FORMAT, "old_checkpoint": sealing.stored_note(old[0]),
            "new_checkpoint": sealing.stored_note(new[1]),
            "proof": [base64.b64encode(h).decode() for h in proof]}


def _hashes(document: Any) -> list[bytes]:
    proof = document.get("proof")
    if not isinstance(proof, list):
        raise merkle.ProofError("the proof's hashes are not a list")
    try:
        return [signing.b64decode(h) for h in proof]
    except ValueError as exc:
        raise merkle.ProofError(f"a hash of the proof is not canonical base64: {exc}") from None


def _note(document: Any, name: str, key: signing.VerifierKey) -> signing.Checkpoint:
    note = document.get(name)
    if not isinstance(note, str):
        raise signing.SignatureError(f"{name} is not a signed note")
    return signing.Checkpoint.parse(signing.open_note(note, key))


def _count(document: Any, name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise merkle.ProofError(f"{name} is not a JSON integer")
    return value


def _event_fields(document: Any) -> list[str | None]:
    event = document.get("event")
    if not isinstance(event, dict) or set(event) != set(encoding.EVENT_FIELDS):
        raise merkle.ProofError(f"event must have exactly the fields {', '.join(encoding.EVENT_FIELDS)}")
    fields = [event[name] for name in encoding.EVENT_FIELDS]
    if not all(v is None or isinstance(v, str) for v in fields):
        raise merkle.ProofError("event fields must be strings or null")
    return fields


def verify_proof(document: Any, key: signing.VerifierKey) -> str:
    """Check a proof file offline, strictly as docs/ENCODING.md §6 states it: anything else in the file rejects
    it. Returns a one-line summary; raises ProofError or SignatureError."""
    if not isinstance(document, dict):
        raise merkle.ProofError("a proof file is a JSON object")
    if document.get("format") == INCLUSION_FORMAT:
        checkpoint = _note(document, "checkpoint", key)
        leaf = merkle.leaf_hash(encoding.event_leaf_input(_event_fields(document)))
        seq, size, proof = _count(document, "seq"), _count(document, "tree_size"), _hashes(document)
        if size != checkpoint.size:
            raise merkle.ProofError(f"proof is for tree size {size}, the checkpoint for {checkpoint.size}")
        merkle.verify_inclusion(seq, size, leaf, proof, checkpoint.root)
        return (f"event {document['event']['id']} is entry {seq} of the log {checkpoint.origin} "
                f"(tree size {size}, signed by {key.name})")
    if document.get("format") == CONSISTENCY_FORMAT:
        old, new = _note(document, "old_checkpoint", key), _note(document, "new_checkpoint", key)
        if old.origin != new.origin:
            raise merkle.ProofError(f"checkpoints of different logs: {old.origin} and {new.origin}")
        merkle.verify_consistency(old.size, new.size, old.root, new.root, _hashes(document))
        return f"tree size {old.size} is a prefix of tree size {new.size} in the log {new.origin}"
    raise UsageError(f"unknown proof format {document.get('format')!r}")
