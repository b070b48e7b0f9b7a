"""Generates the end-to-end log vectors in this folder: log.json and malformed.json (docs/ENCODING.md §10).

Run from the repository root:  python tests/vectors/log/generate.py [DSN]
The stored columns are rendered to the encoding's fields by a real PostgreSQL (a throwaway server unless a DSN of
any database is given): the vectors record what the server prints, not what this script believes it prints.
Everything after the fields (leaves, tree, blocks, checkpoints, anchors, proofs) comes from the kit's Python.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import psycopg  # noqa: E402

from pgaudit_kit.core import anchors, encoding, merkle, signing  # noqa: E402
from pgaudit_kit.log import proofs  # noqa: E402

HERE = Path(__file__).resolve().parent
KEY = signing.SignerKey("pgaudit-kit-vectors", hashlib.sha256(b"pgaudit-kit test vector key").digest())
OTHER_KEY = signing.SignerKey("pgaudit-kit-vectors", hashlib.sha256(b"another key, same name").digest())
ORIGIN = {"system_identifier": "7444444444444444444", "database": "shop db/ü%",
          "install_id": "0b7c6f1e-3a1d-4c5e-9f00-2b4a6d8e0c11"}

TRANSACTION_COLUMNS = ("xid", "xact_start", "session_role", "acting_role", "actor", "context", "context_raw",
                       "application_name", "client_addr", "client_port", "backend_pid")
EVENT_COLUMNS = ("id", "xid", "statement_ts", "op", "relid", "schema_name", "table_name", "partition_name", "pk",
                 "row_data", "old_values", "statement")
# The stored rows, each column as the text its type accepts on input (as an application or the kit wrote it).
TRANSACTIONS = [
    ("1001", "2026-12-01 10:00:00.123456+01:30", "app", "app_writer", "alice@example.com",
     '{"trace": {"amount": 1.50e0, "id": 7, "tags": []}, "request_id": "r-1", "n": 1E+2}', None,
     "billing-api", "192.0.2.10", "54321", "4242"),
    ("1002", "2026-12-01 08:31:00-00", "postgres", "postgres", None, None, "request=abc; not json",
     "", None, None, "4343"),
    ("1003", "1969-12-31 23:59:59.999999+00", "app", "app_writer", "", '{}', None,
     "batch \u2014 nightly", "2001:db8::1", "5432", "4444"),
]
EVENTS = [
    ("1", "1000", "2026-12-01 08:30:00+00", "K", None, None, None, None, None,
     '{"action": "enable", "table": "public.accounts", "options": {"redact": ["email"]}, "version": 2.0E+1}',
     None, None),
    ("1025", "1001", "2026-12-01 08:30:00.123999+00", "I", "16384", "public", "accounts", None, '{"id": "1"}',
     '{"owner": "ada", "id": "1", "balance": "10.50", "note": "quote \\" backslash \\\\ tab \\t bell \\u0007"}',
     None, None),
    ("2049", "1001", "2026-12-01 08:30:00.124+00", "U", "16384", "public", "accounts", None, '{"id": "1"}',
     '{"owner": "ada", "id": "1", "balance": "15.00", "note": "x"}', '{"note": "quote", "balance": "10.50"}',
     "UPDATE accounts SET balance = 15 WHERE id = 1"),
    ("3073", "1002", "2026-12-01 08:31:00.5+00", "S", None, None, None, None, None,
     '{"command_tag": "ALTER TABLE", "object_type": "table", "object_identity": "public.accounts"}',
     None, 'ALTER TABLE accounts ADD COLUMN "größe" int'),
    ("4097", "1003", "1969-12-31 23:59:59.999999+00", "D", "16500", "public", "Gift Cards", 'public."Teil 1"',
     '{"code": "GC-1"}', '{"code": "GC-1", "amount": "25", "owner": null}', None, None),
    ("4098", "1003", "1970-01-01 00:00:00+00", "I", "16500", "public", "Gift Cards", 'public."Teil 2"',
     '{"code": "日本"}', '{"code": "日本", "amount": "", "owner": "ü"}', None, None),
    ("4099", "1003", "1970-01-01 00:00:00.000001+00", "T", "16500", "public", "Gift Cards", 'public."Teil 2"',
     '{"code": "日本"}', '{"code": "日本", "amount": "", "owner": "ü"}', None, "TRUNCATE \"Gift Cards\""),
]
# Two blocks: the first ends inside transaction 1003 (1 of its 3 events sealed), the second seals the rest.
BLOCKS = [(5, "2026-12-01 10:05:00.000001+00"), (7, "2026-12-01 10:10:00+00")]
CHECKPOINT_SIZES = (0, 3, 5, 7)
INCLUSION = ((0, 7), (4, 5), (6, 7), (2, 3))
CONSISTENCY = ((3, 7), (5, 7), (3, 5), (7, 7))

SQL_TYPES = {"xid": "xid8", "xact_start": "timestamptz", "context": "jsonb", "client_addr": "inet",
             "client_port": "int", "backend_pid": "int", "id": "bigint", "statement_ts": "timestamptz",
             "op": '"char"', "relid": "oid", "pk": "jsonb", "row_data": "jsonb", "old_values": "jsonb"}


def _rendered(conn: psycopg.Connection[Any]) -> list[list[str | None]]:
    """Each event's 22 fields as the kit's SQL renders them from the stored columns."""
    def columns(names: tuple[str, ...]) -> str:
        return ", ".join(f"%s::{SQL_TYPES.get(n, 'text')} AS {n}" for n in names)
    out = []
    tx = {t[0]: t for t in TRANSACTIONS}
    for event in EVENTS:
        t = tx.get(event[1], (None,) * len(TRANSACTION_COLUMNS))
        row = conn.execute(
            f"WITH e AS (SELECT {columns(EVENT_COLUMNS)}), t AS (SELECT {columns(TRANSACTION_COLUMNS)}) "  # noqa: S608
            f"SELECT {', '.join(encoding.EVENT_FIELD_SQL)} FROM e LEFT JOIN t ON t.xid = e.xid", (*event, *t),
        ).fetchone()
        assert row is not None
        out.append(list(row))
    return out


def _micros(conn: psycopg.Connection[Any], ts: str) -> int:
    row = conn.execute("SELECT (EXTRACT(epoch FROM %s::timestamptz) * 1000000)::bigint", (ts,)).fetchone()
    assert row is not None
    return int(row[0])


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _noncanonical(b64_hash: str) -> str:
    """The same 32 bytes in base64 with one of the last digit's two unused bits set (the canonical digit has
    them clear), which a lenient decoder reads as the same hash."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return b64_hash[:42] + alphabet[alphabet.index(b64_hash[42]) + 1] + "="


def _resign(body: str, key: signing.SignerKey = KEY) -> str:
    return signing.sign_note(body, key)


def generate(conn: psycopg.Connection[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    origin = signing.origin_line(**ORIGIN)
    events, leaves = [], []
    for seq, (stored, fields) in enumerate(zip(EVENTS, _rendered(conn), strict=True)):
        data = encoding.event_leaf_input(fields)
        leaves.append(merkle.leaf_hash(data))
        events.append({"stored": dict(zip(EVENT_COLUMNS, stored, strict=True)),
                       "fields": dict(zip(encoding.EVENT_FIELDS, fields, strict=True)),
                       "leaf_input_hex": data.hex(), "leaf_hash_hex": leaves[-1].hex(), "seq": seq})
    blocks, first, prev_hash = [], 0, None
    for block_no, (size, sealed_at) in enumerate(BLOCKS):
        last = EVENTS[size - 1]
        xid_events = sum(1 for e in EVENTS if e[1] == last[1])
        xid_sealed = sum(1 for e in EVENTS[:size] if e[1] == last[1])
        frontier = merkle.Frontier()
        frontier.extend(b"".join(leaves[:size]))
        block: dict[str, Any] = {"block_no": block_no, "first_seq": first, "tree_size": size, "root": frontier.root(),
                  "last_xid": int(last[1]), "last_event_id": int(last[0]), "last_xid_events": xid_events,
                  "last_xid_sealed": xid_sealed, "prev_hash": prev_hash, "sealed_at_us": _micros(conn, sealed_at)}
        data = encoding.block_hash_input(**block)
        block_hash = hashlib.sha256(data).digest()
        blocks.append({**block, "root": block["root"].hex(), "prev_hash": prev_hash.hex() if prev_hash else None,
                       "frontier": [p.hex() for p in frontier.peaks],
                       "event_ids": [int(e[0]) for e in EVENTS[first:size]],
                       "leaves": b"".join(leaves[first:size]).hex(), "sealed_at": sealed_at,
                       "block_hash_input_hex": data.hex(), "block_hash_hex": block_hash.hex()})
        first, prev_hash = size, block_hash
    notes = {n: _resign(signing.Checkpoint(origin, n, merkle.root_of(leaves[:n])).body()) for n in CHECKPOINT_SIZES}
    origin_folder = anchors.origin_dir(Path("."), origin).name
    log = {
        "description": "a whole small log, from stored columns to signed checkpoints, anchors and proofs "
                       "(docs/ENCODING.md §10)",
        "key": {"private": KEY.encode(), "public": KEY.verifier().encode()},
        "origin": {**ORIGIN, "line": origin},
        "transactions": [dict(zip(TRANSACTION_COLUMNS, t, strict=True)) for t in TRANSACTIONS],
        "events": events,
        "blocks": blocks,
        "roots": {str(n): merkle.root_of(leaves[:n]).hex() for n in range(len(leaves) + 1)},
        "checkpoints": [{"tree_size": n, "body": signing.open_note(notes[n], None), "note": notes[n],
                         "path": f"{origin_folder}/{anchors.note_name(n, notes[n])}"} for n in CHECKPOINT_SIZES],
        "anchor_origin_file": {"path": f"{origin_folder}/ORIGIN", "content": origin + "\n"},
        "proofs": {
            "inclusion": [{"format": proofs.INCLUSION_FORMAT, "event": events[seq]["fields"], "seq": seq,
                           "tree_size": size, "proof": [_b64(h) for h in merkle.inclusion_proof(seq, leaves[:size])],
                           "checkpoint": notes[size]} for seq, size in INCLUSION],
            "consistency": [{"format": proofs.CONSISTENCY_FORMAT, "old_checkpoint": notes[old],
                             "new_checkpoint": notes[new],
                             "proof": [_b64(h) for h in merkle.consistency_proof(old, leaves[:new])]}
                            for old, new in CONSISTENCY],
        },
    }
    return log, _malformed(log, origin, leaves)


def _note_cases(origin: str, leaves: list[bytes]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    root = merkle.root_of(leaves)
    body = signing.Checkpoint(origin, 7, root).body()
    good = _resign(body)
    text, signature_line = good[:-1].rsplit("\n", 1)
    sig = signing.b64decode(signature_line.rsplit(" ", 1)[1])
    other = _resign(body, OTHER_KEY)

    def signature(raw: bytes) -> str:
        return f"{text}\n{signing.SIGNATURE_PREFIX}{KEY.name} {_b64(raw)}\n"

    root_b64 = _b64(root)
    reject = [
        ("signature-bit-flip", "one bit of the Ed25519 signature changed", signature(sig[:10] + bytes([sig[10] ^ 1]) + sig[11:])),
        ("key-hash-changed", "the signature line names another key hash", signature(bytes([sig[0] ^ 1]) + sig[1:])),
        ("other-key-same-name", "signed by another key with the same name", other),
        ("root-line-edited", "the root line changed after signing", good.replace(root_b64, _b64(leaves[0]), 1)),
        ("size-line-edited", "the size line changed after signing", good.replace("\n7\n", "\n6\n", 1)),
        ("origin-line-edited", "the origin line changed after signing", good.replace("shop", "shoq", 1)),
        ("size-leading-zero", "signed, but the size is written 07", _resign(body.replace("\n7\n", "\n07\n"))),
        ("size-plus-sign", "signed, but the size is written +7", _resign(body.replace("\n7\n", "\n+7\n"))),
        ("size-negative", "signed, but the size is -7", _resign(body.replace("\n7\n", "\n-7\n"))),
        ("root-not-canonical-base64", "signed, but the root's last base64 digit has unused bits set",
         _resign(body.replace(root_b64, _noncanonical(root_b64)))),
        ("root-31-bytes", "signed, but the root is 31 bytes", _resign(body.replace(root_b64, _b64(root[:31])))),
        ("root-unpadded", "signed, but the root's base64 has no padding", _resign(body.replace(root_b64, root_b64[:-1]))),
        ("no-blank-line", "the signature line follows the body directly", good.replace("\n\n", "\n", 1)),
        ("no-final-newline", "the signature line does not end in a newline", good[:-1]),
        ("line-after-signatures", "a line that is not a signature line follows the signatures", good + "hello\n"),
        ("signature-not-base64", "the signature is not base64", signature(sig)[:-10] + "!!!!!!!!!\n"),
        ("no-signature", "no signature line at all", text + "\n"),
        ("body-only", "a body with no blank line or signature", body),
        ("tab-in-extension-line", "signed, but an extension line holds a tab (no control character but newline)",
         _resign(body + "extension:\tx\n")),
        ("other-key-name-with-plus", "a line of another key whose name holds '+'",
         f"{text}\n{signing.SIGNATURE_PREFIX}other+key {_b64(sig)}\n{signature_line}\n"),
        ("other-key-line-too-short", "a line of another key with 4 bytes: a key hash and no signature",
         f"{text}\n{signing.SIGNATURE_PREFIX}other {_b64(sig[:4])}\n{signature_line}\n"),
        ("bad-then-good-line-of-the-key", "a failing line of the vector key before its valid line",
         f"{text}\n{signature(sig[:10] + bytes([sig[10] ^ 1]) + sig[11:])[len(text) + 1:]}{signature_line}\n"),
    ]
    accept = [
        ("extension-line", "a signed extension line after the root line",
         _resign(body + "extension: allowed\n")),
        ("two-signatures", "a signature by another key first, then the vector key's",
         f"{text}\n{other.rsplit(chr(10), 2)[1]}\n{signature_line}\n"),
    ]
    return ([{"name": n, "why": w, "note": v} for n, w, v in reject],
            [{"name": n, "why": w, "note": v} for n, w, v in accept])


def _malformed(log: dict[str, Any], origin: str, leaves: list[bytes]) -> dict[str, Any]:
    reject_notes, accept_notes = _note_cases(origin, leaves)
    inclusion = log["proofs"]["inclusion"][1]  # seq 4 of 5: a path of 3 hashes
    consistency = log["proofs"]["consistency"][0]  # 3 -> 7
    notes = {c["tree_size"]: c["note"] for c in log["checkpoints"]}

    def edit(doc: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(doc))
        change(copy)
        return copy

    def event(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        return lambda d: change(d["event"])

    wrong_origin = _resign(signing.Checkpoint(origin.replace("shop", "shoq"), 3, merkle.root_of(leaves[:3])).body())
    first_hash = signing.b64decode(inclusion["proof"][0])
    cases = [
        ("field-changed", "row_data differs from what was sealed", inclusion,
         event(lambda e: e.update(row_data=e["row_data"].replace("25", "26")))),
        ("field-null-for-empty", "an empty field given as null", log["proofs"]["inclusion"][0],
         event(lambda e: e.update(relid=""))),
        ("field-missing", "xact_start_us left out", inclusion, event(lambda e: e.pop("xact_start_us"))),
        ("field-renamed", "statement_ts instead of statement_ts_us", inclusion,
         event(lambda e: e.update(statement_ts=e.pop("statement_ts_us")))),
        ("field-extra", "a 23rd field", inclusion, event(lambda e: e.update(comment="x"))),
        ("field-number", "backend_pid as a JSON number", inclusion,
         event(lambda e: e.update(backend_pid=int(e["backend_pid"])))),
        ("seq-string", "seq as a string", inclusion, lambda d: d.update(seq=str(d["seq"]))),
        ("seq-other-leaf", "seq of the neighbouring leaf", inclusion, lambda d: d.update(seq=d["seq"] - 1)),
        ("seq-outside-tree", "seq equal to the tree size", inclusion, lambda d: d.update(seq=d["tree_size"])),
        ("tree-size-mismatch", "tree_size other than the checkpoint's", inclusion,
         lambda d: d.update(tree_size=d["tree_size"] + 1)),
        ("path-too-short", "the last hash of the path left out", inclusion, lambda d: d["proof"].pop()),
        ("path-too-long", "a hash appended to the path", inclusion, lambda d: d["proof"].append(d["proof"][0])),
        ("hash-not-canonical-base64", "a path hash whose base64 has unused bits set", inclusion,
         lambda d: d["proof"].__setitem__(0, _noncanonical(d["proof"][0]))),
        ("hash-31-bytes", "a path hash of 31 bytes", inclusion,
         lambda d: d["proof"].__setitem__(0, _b64(first_hash[:31]))),
        ("format-unknown", "another format string", inclusion,
         lambda d: d.update(format="pgaudit-kit-inclusion-proof/2")),
        ("checkpoint-unsigned", "the checkpoint's signature line removed", inclusion,
         lambda d: d.update(checkpoint=d["checkpoint"].split("\n\n")[0] + "\n\n")),
        ("consistency-swapped", "old and new checkpoints swapped", consistency,
         lambda d: d.update(old_checkpoint=d["new_checkpoint"], new_checkpoint=d["old_checkpoint"])),
        ("consistency-hash-changed", "one hash of the proof replaced", consistency,
         lambda d: d["proof"].__setitem__(0, _b64(leaves[0]))),
        ("consistency-from-empty-tree", "a proof from tree size 0", consistency,
         lambda d: d.update(old_checkpoint=notes[0])),
        ("consistency-other-origin", "the old checkpoint names another log", consistency,
         lambda d: d.update(old_checkpoint=wrong_origin)),
        ("consistency-equal-sizes-with-hashes", "equal sizes need an empty proof", log["proofs"]["consistency"][3],
         lambda d: d.update(proof=[_b64(leaves[0])])),
    ]
    proof_cases = [{"name": n, "why": w, "proof": edit(doc, change)} for n, w, doc, change in cases]
    for case in proof_cases:  # every case must differ from its valid source
        assert case["proof"] not in (*log["proofs"]["inclusion"], *log["proofs"]["consistency"]), case["name"]
    return {"description": "notes and proofs a verifier with the vector key must reject (and notes it must accept), "
                           "each one change away from a valid one of log.json (docs/ENCODING.md §10)",
            "reject_notes": reject_notes, "accept_notes": accept_notes, "reject_proofs": proof_cases}


def main() -> None:
    def write(name: str, data: dict[str, Any]) -> None:
        (HERE / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    if len(sys.argv) > 1:
        with psycopg.connect(sys.argv[1]) as conn:
            log, malformed = generate(conn)
    else:
        from pgaudit_kit.pg.tempserver import TempServer
        server = TempServer().start()
        try:
            with psycopg.connect(server.dsn("postgres")) as conn:
                log, malformed = generate(conn)
        finally:
            server.stop()
    write("log.json", log)
    write("malformed.json", malformed)


if __name__ == "__main__":
    main()
