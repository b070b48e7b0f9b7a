"""Generates the canonical-encoding test vectors in this folder (one JSON file per case).

Run from the repository root:  python tests/vectors/encoding/generate.py
Each event case gives the 22 fields as text (null for SQL NULL), the leaf input in hex and the leaf
hash; mutation cases change one thing in a base case and record the (different) result, so an
implementation that ignores that detail fails. Block cases give a block's fields and its hash.
JSON-typed fields are written exactly as PostgreSQL's jsonb text output prints them (docs/ENCODING.md).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from pgaudit_kit.core import encoding, merkle  # noqa: E402

HERE = Path(__file__).resolve().parent

TX = {
    "xact_start_us": "1764201600123456", "session_role": "postgres", "acting_role": "app_writer",
    "actor": "alice@example.com", "context": '{"trace_id": "t-9", "request_id": "r-1"}', "context_raw": None,
    "application_name": "billing-api", "client_addr": "127.0.0.1", "client_port": "54321", "backend_pid": "4242",
}
INSERT = {
    "id": "1", "xid": "750", "statement_ts_us": "1764201600123999", "op": "I", "relid": "16384",
    "schema_name": "public", "table_name": "accounts", "partition_name": None, "pk": '{"id": "1"}',
    "row_data": '{"id": "1", "owner": "ada", "balance": "10"}', "old_values": None, "statement": None, **TX,
}
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "insert": ("INSERT with a full transaction record", INSERT),
    "update": ("UPDATE: row_data is the new row, old_values the changed columns' old values", {
        **INSERT, "id": "2", "op": "U", "row_data": '{"id": "1", "owner": "ada", "balance": "15"}',
        "old_values": '{"balance": "10"}'}),
    "delete-no-transaction-record": ("DELETE whose transaction record is missing: its 10 fields are NULL", {
        **INSERT, "id": "3", "op": "D", **{k: None for k in TX}}),
    "partition-and-statement": ("partitioned table row with statement text captured", {
        **INSERT, "id": "4", "partition_name": 'public."Teil 1"', "statement": "INSERT INTO m VALUES (1, 'x')"}),
    "unicode-and-escapes": ("non-ASCII text, quotes, backslashes and control characters inside jsonb", {
        **INSERT, "id": "5", "table_name": "größe", "row_data": '{"a": "\\"q\\" \\\\ \\n\\t\\u0001", "ü": "日本"}'}),
    "empty-strings": ("empty strings are not NULL", {**INSERT, "id": "6", "actor": "", "application_name": ""}),
    "before-1970": ("timestamps before 1970 are negative microseconds", {
        **INSERT, "id": "7", "statement_ts_us": "-86400000001", "xact_start_us": "-86400000002"}),
    "ddl": ("DDL event: no primary key, details in row_data", {
        **INSERT, "id": "8", "op": "S", "table_name": None, "pk": None, "statement": "ALTER TABLE t ADD c int",
        "row_data": '{"command_tag": "ALTER TABLE", "object_type": "table", "object_identity": "public.t"}'}),
    "big-ids": ("64-bit ids and xids", {**INSERT, "id": "9223372036854775807", "xid": "18446744073709551000"}),
    "ipv6-context-raw": ("IPv6 client and a context that was not JSON", {
        **INSERT, "id": "10", "client_addr": "::1", "context": None, "context_raw": "request_id=abc; not json"}),
}
MUTATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mutation-bit-flip": ("insert", "one character of row_data changed", {
        "row_data": '{"id": "1", "owner": "adb", "balance": "10"}'}),
    "mutation-null-vs-empty": ("insert", "actor NULL instead of empty-string-free value", {"actor": None}),
    "mutation-field-moved": ("insert", "the same text moved from schema_name to table_name", {
        "schema_name": "publicaccounts", "table_name": ""}),
    "mutation-op": ("insert", "operation D instead of I", {"op": "D"}),
}
BLOCKS: dict[str, tuple[str, dict[str, Any]]] = {
    "block-genesis": ("first block: no previous hash", dict(
        block_no=0, first_seq=0, tree_size=3, root=merkle.root_of([merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b"),
                                                                   merkle.leaf_hash(b"c")]),
        last_xid=751, last_event_id=3, last_xid_events=2, last_xid_sealed=2, prev_hash=None,
        sealed_at_us=1764201601000000)),
    "block-chained": ("later block chained to the previous one", dict(
        block_no=1, first_seq=3, tree_size=5, root=hashlib.sha256(b"root").digest(), last_xid=760,
        last_event_id=12, last_xid_events=9, last_xid_sealed=4, prev_hash=hashlib.sha256(b"previous block").digest(),
        sealed_at_us=1764201602000000)),
}


def event_case(name: str, desc: str, fields: dict[str, Any], base: str | None = None) -> dict[str, Any]:
    values = [fields[n] for n in encoding.EVENT_FIELDS]
    data = encoding.event_leaf_input(values)
    case = {"desc": desc, "kind": "event", "fields": {n: fields[n] for n in encoding.EVENT_FIELDS},
            "leaf_input_hex": data.hex(), "leaf_hash_hex": merkle.leaf_hash(data).hex()}
    if base:
        case["mutation_of"] = base
    return case


def main() -> None:
    for old in HERE.glob("*.json"):
        old.unlink()
    cases: dict[str, dict[str, Any]] = {}
    for name, (desc, fields) in CASES.items():
        cases[name] = event_case(name, desc, fields)
    for name, (base, desc, change) in MUTATIONS.items():
        cases[name] = event_case(name, desc, {**CASES[base][1], **change}, base)
    for name, (desc, block) in BLOCKS.items():
        data = encoding.block_hash_input(**block)
        cases[name] = {"desc": desc, "kind": "block",
                       "block": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in block.items()},
                       "block_hash_input_hex": data.hex(), "block_hash_hex": hashlib.sha256(data).hexdigest()}
    for name, case in cases.items():
        (HERE / f"{name}.json").write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} vectors to {HERE}")


if __name__ == "__main__":
    main()
