"""The canonical encoding in the database: agreement between the published vectors, the kit's SQL and
verify's SQL, and independence from session settings (the vectors in Python alone:
tests/unit/test_encoding_vectors.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgaudit_kit.core import encoding
from pgaudit_kit.core.errors import KitError
from pgaudit_kit.log import leaf_reader
from tests.support.helpers import enable
from tests.support.vectors import ENCODING_VECTORS as VECTORS
from tests.support.vectors import LOG
from tests.support.vectors import load as _load

EVENT_VECTORS = [p for p in VECTORS if _load(p)["kind"] == "event"]


@contextmanager
def _stored(kit_conn: psycopg.Connection[Any], f: dict[str, Any]) -> Iterator[None]:
    """The vector's event (and transaction record, if it has one) stored in a real kit database for the
    duration, under hostile session settings; rolled back afterwards."""
    with pytest.raises(psycopg.errors.QueryCanceled), kit_conn.transaction():  # rolled back at the end
        kit_conn.execute(
            "INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, partition_name, pk,"
            " row_data, old_values, statement) OVERRIDING SYSTEM VALUE VALUES (%s, %s::xid8, 'epoch'::timestamptz + "
            "%s::bigint * interval '1 microsecond', %s, %s::oid, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s)",
            (f["id"], f["xid"], f["statement_ts_us"], f["op"], f["relid"], f["schema_name"], f["table_name"],
             f["partition_name"], f["pk"], f["row_data"], f["old_values"], f["statement"]))
        if f["session_role"] is not None:
            kit_conn.execute(
                "INSERT INTO pgaudit_kit.transaction VALUES (%s::xid8, 'epoch'::timestamptz + %s::bigint * "
                "interval '1 microsecond', %s, %s, %s, %s::jsonb, %s, %s, %s::inet, %s::int, %s::int)",
                (f["xid"], f["xact_start_us"], f["session_role"], f["acting_role"], f["actor"], f["context"],
                 f["context_raw"], f["application_name"], f["client_addr"], f["client_port"], f["backend_pid"]))
        kit_conn.execute("SET LOCAL TimeZone = 'Pacific/Chatham'; SET LOCAL DateStyle = 'German'; "
                         "SET LOCAL extra_float_digits = -15; SET LOCAL bytea_output = 'escape'")
        yield
        kit_conn.execute("SELECT pg_cancel_backend(pg_backend_pid())")  # leave nothing behind


@pytest.mark.parametrize("path", EVENT_VECTORS, ids=lambda p: p.stem)
def test_vectors_match_the_database_encoding(kit_conn: psycopg.Connection[Any], path: Path) -> None:
    """Store the vector's event in a real kit database: both SQL encodings must give the vector's bytes."""
    f = _load(path)["fields"]
    with _stored(kit_conn, f):
        row = kit_conn.execute(
            f"SELECT pgaudit_kit.event_leaf_input(e, t), {encoding.LEAF_INPUT_SQL} FROM pgaudit_kit.event e "
            "LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid WHERE e.id = %s", (f["id"],)).fetchone()
        assert row is not None
        assert bytes(row[0]).hex() == _load(path)["leaf_input_hex"]
        assert bytes(row[1]).hex() == _load(path)["leaf_input_hex"]


# verify reads xids as int8, as it reads the blocks' last_xid: an xid8 beyond 2^63 takes 2^31 wraparounds
# of the 32-bit transaction counter, so big-ids (xid 2^64 - 616) is left out here.
@pytest.mark.parametrize("path", [p for p in EVENT_VECTORS if p.stem != "big-ids"], ids=lambda p: p.stem)
def test_vectors_match_the_leaves_verify_recomputes(kit_conn: psycopg.Connection[Any], path: Path) -> None:
    """verify's own query (fields assembled by array_send of text[], event and transaction parts apart,
    hashed on the server) gives the vector's leaf, with or without a transaction record; it refuses to
    run in a client encoding in which its bytes would be other than UTF-8."""
    case = _load(path)
    f = case["fields"]
    xid, event_id = int(f["xid"]), int(f["id"])
    with _stored(kit_conn, f):
        kit_conn.execute("SET LOCAL search_path = pg_catalog; SET LOCAL client_encoding = 'LATIN1'")
        with pytest.raises(KitError, match="client_encoding UTF8, not LATIN1"):
            leaf_reader.read_page(kit_conn, (xid, event_id - 1), (xid, event_id))
        kit_conn.execute("SET LOCAL client_encoding = 'UTF8'")  # as verify reads
        assert leaf_reader.read_page(kit_conn, (xid, event_id - 1), (xid, event_id)) == \
            ([xid], [event_id], bytes.fromhex(case["leaf_hash_hex"]))
        parts = kit_conn.execute(
            f"SELECT {leaf_reader.LEAF_PREFIX_SQL} || {leaf_reader.EVENT_PART_SQL} || COALESCE((SELECT "
            f"{leaf_reader.TRANSACTION_PART_SQL} FROM pgaudit_kit.transaction t WHERE t.xid = e.xid), "
            f"{leaf_reader.NO_TRANSACTION_PART_SQL}) FROM pgaudit_kit.event e WHERE e.id = %s", (event_id,)).fetchone()
        assert parts is not None and bytes(parts[0]).hex() == "00" + case["leaf_input_hex"]


@contextmanager
def _stored_columns(kit_conn: psycopg.Connection[Any], e: dict[str, Any], t: dict[str, Any] | None) -> Iterator[None]:
    """A log vector's event and transaction rows, given as their columns' input text, stored in a real kit database
    for the duration (rolled back afterwards), read under hostile session settings."""
    with pytest.raises(psycopg.errors.QueryCanceled), kit_conn.transaction():
        kit_conn.execute(
            "INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, partition_name, pk,"
            " row_data, old_values, statement) OVERRIDING SYSTEM VALUE VALUES (%(id)s::bigint, %(xid)s::xid8, "
            "%(statement_ts)s::timestamptz, %(op)s::\"char\", %(relid)s::oid, %(schema_name)s, %(table_name)s, "
            "%(partition_name)s, %(pk)s::jsonb, %(row_data)s::jsonb, %(old_values)s::jsonb, %(statement)s)", e)
        if t is not None:
            kit_conn.execute(
                "INSERT INTO pgaudit_kit.transaction VALUES (%(xid)s::xid8, %(xact_start)s::timestamptz, "
                "%(session_role)s, %(acting_role)s, %(actor)s, %(context)s::jsonb, %(context_raw)s, "
                "%(application_name)s, %(client_addr)s::inet, %(client_port)s::int, %(backend_pid)s::int)", t)
        kit_conn.execute("SET LOCAL TimeZone = 'America/St_Johns'; SET LOCAL DateStyle = 'SQL, DMY'; "
                         "SET LOCAL search_path = pg_catalog; SET LOCAL client_encoding = 'UTF8'")
        yield
        kit_conn.execute("SELECT pg_cancel_backend(pg_backend_pid())")  # leave nothing behind


@pytest.mark.parametrize("seq", range(len(LOG["events"])))
def test_log_vector_stored_columns_give_its_leaves(kit_conn: psycopg.Connection[Any], seq: int) -> None:
    """The end-to-end vector's rows as stored (timestamps with offsets, jsonb as the application wrote it: keys in
    any order, exponents) give the vector's fields and leaf in the kit's SQL and in verify's."""
    event = LOG["events"][seq]
    e = event["stored"]
    t = next((t for t in LOG["transactions"] if t["xid"] == e["xid"]), None)
    with _stored_columns(kit_conn, e, t):
        row = kit_conn.execute(
            f"SELECT ARRAY[{', '.join(encoding.EVENT_FIELD_SQL)}], pgaudit_kit.event_leaf_input(e, t), "
            f"{encoding.LEAF_INPUT_SQL} FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid "
            "WHERE e.id = %s::bigint", (e["id"],)).fetchone()
        assert row is not None
        assert dict(zip(encoding.EVENT_FIELDS, row[0], strict=True)) == event["fields"]
        assert bytes(row[1]).hex() == bytes(row[2]).hex() == event["leaf_input_hex"]
        xid, event_id = int(e["xid"]), int(e["id"])
        assert leaf_reader.read_page(kit_conn, (xid, event_id - 1), (xid, event_id)) == \
            ([xid], [event_id], bytes.fromhex(event["leaf_hash_hex"]))


def test_log_vector_blocks_hash_in_sql(kit_conn: psycopg.Connection[Any]) -> None:
    """The kit's SQL block hash (what sealing stores) of the vector's blocks, sealed_at as stored."""
    for b in LOG["blocks"]:
        row = kit_conn.execute(
            "SELECT pgaudit_kit.block_hash_input(%(block_no)s, %(first_seq)s, %(tree_size)s, "
            "decode(%(root)s, 'hex'), %(last_xid)s::text::xid8, %(last_event_id)s, %(last_xid_events)s, "
            "%(last_xid_sealed)s, decode(%(prev_hash)s, 'hex'), %(sealed_at)s::timestamptz)", b).fetchone()
        assert row is not None and bytes(row[0]).hex() == b["block_hash_input_hex"]


def test_leaves_do_not_depend_on_the_reading_session(kit_conn: psycopg.Connection[Any]) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz, f float8, b bytea, i interval, n text)")
    enable(kit_conn, "t")
    with kit_conn.transaction():
        kit_conn.execute("SELECT set_config('pgaudit_kit.actor', 'zoë', true)")
        kit_conn.execute("INSERT INTO t VALUES (1, now(), 0.1, '\\x00ff', '1 day', 'Grüße')")
    query = "SELECT pgaudit_kit.event_leaf_input(e, t) FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t " \
            "ON t.xid = e.xid ORDER BY e.id"
    reference = [bytes(r[0]) for r in kit_conn.execute(query).fetchall()]
    for setting in ("SET TimeZone = 'Asia/Kathmandu'", "SET DateStyle = 'SQL, DMY'", "SET IntervalStyle = 'iso_8601'",
                    "SET extra_float_digits = -10", "SET bytea_output = 'escape'", "SET client_encoding = 'LATIN1'"):
        kit_conn.execute(setting)
        assert [bytes(r[0]) for r in kit_conn.execute(query).fetchall()] == reference, setting
    kit_conn.execute("RESET ALL")
    fields = kit_conn.execute(f"SELECT {', '.join(encoding.EVENT_FIELD_SQL)} FROM pgaudit_kit.event e "
                              "LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid ORDER BY e.id").fetchall()
    assert [encoding.event_leaf_input(list(f)) for f in fields] == reference
