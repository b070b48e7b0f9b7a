"""The canonical byte encoding of events (version 1), as specified in docs/ENCODING.md.

This is the reference implementation the spec and the test vectors are made from; the database
computes the same bytes in SQL (``pgaudit_kit.event_leaf_input``) and ``verify`` in one SQL expression
of built-in functions (:data:`LEAF_INPUT_SQL`). Tests check that all three agree.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

EVENT_MAGIC = b"PGAKEV01"
BLOCK_MAGIC = b"PGAKBL01"
NULL_FIELD = b"\xff\xff\xff\xff"

# Field order of an event's leaf input: the event's own columns, then its transaction record's.
EVENT_FIELDS = (
    "id", "xid", "statement_ts_us", "op", "relid", "schema_name", "table_name", "partition_name", "pk",
    "row_data", "old_values", "statement",
    "xact_start_us", "session_role", "acting_role", "actor", "context", "context_raw", "application_name",
    "client_addr", "client_port", "backend_pid",
)


def field(value: bytes | None) -> bytes:
    """One field: 4-byte big-endian length and the bytes, or ff ff ff ff for NULL."""
    if value is None:
        return NULL_FIELD
    return struct.pack(">I", len(value)) + value


def text_field(value: str | None) -> bytes:
    return field(None if value is None else value.encode("utf-8"))


def event_leaf_input(values: Sequence[str | None]) -> bytes:
    """Leaf input of one event from its 22 fields as text (in EVENT_FIELDS order), NULL as None."""
    if len(values) != len(EVENT_FIELDS):
        raise ValueError(f"an event has {len(EVENT_FIELDS)} fields, got {len(values)}")
    return EVENT_MAGIC + b"".join(text_field(v) for v in values)


def block_hash_input(block_no: int, first_seq: int, tree_size: int, root: bytes, last_xid: int, last_event_id: int,
                     last_xid_events: int, last_xid_sealed: int, prev_hash: bytes | None, sealed_at_us: int) -> bytes:
    return BLOCK_MAGIC + b"".join((
        text_field(str(block_no)), text_field(str(first_seq)), text_field(str(tree_size)), field(root),
        text_field(str(last_xid)), text_field(str(last_event_id)), text_field(str(last_xid_events)),
        text_field(str(last_xid_sealed)), field(prev_hash), text_field(str(sealed_at_us)),
    ))


def _sql_field(expression: str) -> str:
    # COALESCE rather than CASE: the field's text is computed twice instead of three times (5 us/event
    # instead of 8 us on the server, which bounds how fast verify can go).
    return (f"COALESCE(int4send(length(convert_to({expression}, 'UTF8'))) || convert_to({expression}, 'UTF8'), "
            f"'\\xffffffff'::bytea)")


_MICROS = "(EXTRACT(epoch FROM {0}) * 1000000)::bigint::text"

# Each field as a text SQL expression over ``pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t``.
EVENT_FIELD_SQL = (
    "e.id::text", "e.xid::text", _MICROS.format("e.statement_ts"), "e.op::text", "e.relid::text", "e.schema_name",
    "e.table_name", "e.partition_name", "e.pk::text", "e.row_data::text", "e.old_values::text", "e.statement",
    _MICROS.format("t.xact_start"), "t.session_role", "t.acting_role", "t.actor", "t.context::text", "t.context_raw",
    "t.application_name", "textin(inet_out(t.client_addr))", "t.client_port::text", "t.backend_pid::text",
)

# The whole encoding as one SQL expression made only of built-in functions, so that verification does
# not rely on any function of the kit.
LEAF_INPUT_SQL = "'\\x5047414b45563031'::bytea || " + " || ".join(_sql_field(expr) for expr in EVENT_FIELD_SQL)
