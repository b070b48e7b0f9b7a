"""The canonical byte encoding of events (version 1), as specified in docs/ENCODING.md.

This is the reference implementation the spec and the test vectors are made from; the database
computes the same bytes in SQL (``pgaudit_kit.event_leaf_input``), and so does ``verify``, in SQL made
of built-in functions only (:data:`LEAF_INPUT_SQL`, or :func:`sent_fields_sql` as leaf_reader.py uses
it). Tests check that they all agree.
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


# An infinite timestamp (the kit never writes one; a superuser may store one) is its text, "infinity" or
# "-infinity", so that recomputing a leaf never fails on a stored value (docs/ENCODING.md §1). So is a finite
# one whose microseconds do not fit a bigint (from 294247 AD): the same decimal digits, computed as numeric.
# The cheap bigint path is taken below a bound safely inside the range; both give the same digits there.
_MICROS = ("CASE WHEN {0} > '-infinity' AND {0} < '294247-01-01 00:00:00+00' "
           "THEN (EXTRACT(epoch FROM {0}) * 1000000)::bigint::text "
           "WHEN isfinite({0}) THEN round(EXTRACT(epoch FROM {0}) * 1000000)::text ELSE {0}::text END")

# Each field as a text SQL expression over ``pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t``.
EVENT_FIELD_SQL = (
    "e.id::text", "e.xid::text", _MICROS.format("e.statement_ts"), "e.op::text", "e.relid::text", "e.schema_name",
    "e.table_name", "e.partition_name", "e.pk::text", "e.row_data::text", "e.old_values::text", "e.statement",
    _MICROS.format("t.xact_start"), "t.session_role", "t.acting_role", "t.actor", "t.context::text", "t.context_raw",
    "t.application_name", "textin(inet_out(t.client_addr))", "t.client_port::text", "t.backend_pid::text",
)


def _sql_fields(expressions: Sequence[str]) -> str:
    """Fields (§1 of docs/ENCODING.md) as one bytea, of built-in functions only, whatever the session.

    array_send writes a one-dimensional array as a 20-byte header (number of dimensions, null flag,
    element type, length, lower bound) and then each element as a 4-byte big-endian length and its
    bytes, -1 (ff ff ff ff) for NULL: exactly the encoding's fields. One array_send instead of a
    length, a concatenation and a COALESCE per field makes a leaf about twice as cheap to recompute.
    """
    return ("substr(array_send(ARRAY[" + ", ".join(f"convert_to({e}, 'UTF8')" for e in expressions)
            + "]::bytea[]), 21)")


def sent_fields_sql(expressions: Sequence[str]) -> str:
    """The same bytes as :func:`_sql_fields`, cheaper, but only in a session whose client_encoding is
    UTF8: array_send of a text[] writes each element with text's send function, which converts it from
    the database encoding to the client encoding, as convert_to(x, 'UTF8') does (for a UTF8 database,
    not at all) but without convert_to's look-ups of both encodings by name for every field."""
    return "substr(array_send(ARRAY[" + ", ".join(expressions) + "]::text[]), 21)"


# The whole encoding as one SQL expression over ``e LEFT JOIN t``, made only of built-in functions, so
# that verification does not rely on any function of the kit, and independent of session settings.
LEAF_INPUT_SQL = "'\\x" + EVENT_MAGIC.hex() + "'::bytea || " + _sql_fields(EVENT_FIELD_SQL)

# The event's own fields (over ``pgaudit_kit.event e``) and its transaction record's (over
# ``pgaudit_kit.transaction t``): verify encodes a transaction record once for all of its events.
EVENT_OWN_FIELD_SQL = EVENT_FIELD_SQL[:EVENT_FIELDS.index("xact_start_us")]
TRANSACTION_FIELD_SQL = EVENT_FIELD_SQL[len(EVENT_OWN_FIELD_SQL):]
