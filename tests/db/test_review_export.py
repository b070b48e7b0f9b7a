"""`log --format csv|jsonl|json` written by the server (issue 19, item 2) is the same, byte for byte, as the
same events formatted in Python: on the review tests' history (hostile actor, schema, table and key names,
DDL, control and review events, a composite key, exact numbers in context) plus a table of hostile values
(quotes, commas, line feeds, carriage returns, control characters, backslashes, Unicode, empty strings,
NULLs), sealed, pending and still in chunks; for several filters, both orders, whole listings and pages."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pgaudit_kit.log import sealing
from pgaudit_kit.pg import db
from pgaudit_kit.review import events as review_events
from pgaudit_kit.review import render
from pgaudit_kit.review.query import ALL_OPS, EventFilter, parse_context, parse_pk
from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable
from tests.support.review import HOSTILE_ACTOR, WEIRD_KEY, WEIRD_SCHEMA, WEIRD_TABLE, History, history_database

ODD_TEXTS = ["plain", "", "comma, inside", 'a "quoted" word', "line\nfeed", "carriage\rreturn", "crlf\r\n",
             "tab\there", "\x01\x02\x1b[31m\x7f", "back\\slash \\n \\\\", "ünïcødé ☃ 𝄞 \u2028\u2029", " lead",
             "trail ", "\\.", "'single'", "{\"json\": \"looking\"}", "null", "-0.0", "1e400"]


@pytest.fixture(scope="module")
def hist(cluster: Cluster) -> Iterator[History]:
    with history_database(cluster) as history:
        with psycopg.connect(history.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.odd (k text PRIMARY KEY, v text, j jsonb, n numeric, at timestamptz, "
                         "a int[])")
            enable(conn, "public.odd")
            for i, text in enumerate(ODD_TEXTS):
                with conn.transaction():
                    conn.execute("SELECT set_config('pgaudit_kit.actor', %s, true), "
                                 "set_config('pgaudit_kit.context', %s, true)",
                                 (text or None, json.dumps({"request_id": text, "i": i}, ensure_ascii=False)))
                    conn.execute("INSERT INTO public.odd VALUES (%s, %s, %s, %s, %s, %s)",
                                 (text + str(i), text, json.dumps({"v": text, "n": [1.5, None, True]}),
                                  "1.10" if i % 2 else None, "2026-01-01 00:00:00.000001+00" if i % 3 else None,
                                  [i, None]))
            conn.execute("UPDATE public.odd SET v = v || E'\\r\\n,\"', n = 2.000 WHERE k <> 'plain0'")
            conn.execute("DELETE FROM public.odd WHERE k = 'plain0'")
            conn.execute("SELECT set_config('pgaudit_kit.context', 'not json, \"really\"', false)")
            conn.execute("INSERT INTO public.odd VALUES ('raw context', 'x')")
            conn.execute("RESET pgaudit_kit.context")
            sealing.seal(conn)
            # after the seal: pending, and a statement of many rows still in chunks
            conn.execute("INSERT INTO public.odd SELECT 'bulk' || g, 'bulk ' || g FROM generate_series(1, 3000) g")
            conn.execute("UPDATE public.odd SET v = 'pending' WHERE k = 'raw context'")
            staged = conn.execute("SELECT count(*) FROM pgaudit_kit.staged_event").fetchone()
            assert staged is not None and staged[0] >= 3000
        yield history


def rendered(dsn: str, flt: EventFilter, page: review_events.Page, fmt: str, how: str) -> tuple[bytes, Any]:
    """The listing as *how* writes it: "python" (each event formatted here), "cursor" (formatted by the server,
    read through a cursor) or "copy" (formatted by the server, read with COPY from a second connection in the
    same snapshot, as `log` does for long listings)."""
    out = io.BytesIO()
    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as second:
        snapshot = db.begin_shared_read(conn)
        assert snapshot is not None
        reader = None
        if how == "copy":
            db.begin_in_snapshot(second, snapshot)
            reader = second
        lines = render.SERVER_LINES[fmt] if how != "python" else None
        events = review_events.EventPage(conn, flt, page, lines=lines, reader=reader)
        writer = render.event_writer(fmt, out)
        writer.begin()
        for chunk in events:
            writer.write_chunk(chunk)
        writer.end(events.next_cursor)
        conn.rollback()
    return out.getvalue(), events.next_cursor


def filters(hist: History) -> dict[str, EventFilter]:
    weird = f'"{WEIRD_SCHEMA.replace(chr(34), chr(34) * 2)}"."{WEIRD_TABLE}"'
    return {
        "everything": EventFilter(ops=ALL_OPS),
        "odd": EventFilter(tables=("public.odd",)),
        "actor": EventFilter(actors=(HOSTILE_ACTOR, "carriage\rreturn", "alice")),
        "context": EventFilter(context=(parse_context("request_id=line\nfeed"),)),
        "weird key": EventFilter(tables=(weird,), pk=parse_pk(WEIRD_KEY)),
        "ddl and control": EventFilter(ops=frozenset("SKR")),
    }


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_server_formatting_is_byte_for_byte_python_formatting(hist: History, fmt: str, order: str) -> None:
    for name, flt in filters(hist).items():
        for limit in (0, 7):
            page = review_events.Page(order=order, limit=limit)
            python, python_next = rendered(hist.dsn, flt, page, fmt, "python")
            assert python.count(b"\n") >= (1 if fmt == "jsonl" else 2), (name, limit)  # an event at least
            for how in ("cursor", "copy"):
                server, server_next = rendered(hist.dsn, flt, page, fmt, how)
                assert server == python, (name, fmt, order, limit, how)
                assert server_next == python_next
            for _ in range(3):  # the next pages join on
                if python_next is None:
                    break
                page = review_events.Page(order=order, limit=limit, cursor=python_next)
                python, python_next = rendered(hist.dsn, flt, page, fmt, "python")
                server, server_next = rendered(hist.dsn, flt, page, fmt, "copy")
                assert server == python, (name, fmt, order, limit, page.cursor)
                assert server_next == python_next


def test_export_has_every_state_and_parses_back(hist: History) -> None:
    flt, page = EventFilter(tables=("public.odd",), ops=ALL_OPS), review_events.Page(order="oldest", limit=0)
    # through the library: the command's review record would seal at its commit (seal_at_commit)
    text, _ = rendered(hist.dsn, flt, page, "csv", "copy")
    rows = list(csv.DictReader(io.StringIO(text.decode(), newline="")))
    lines, _ = rendered(hist.dsn, flt, page, "jsonl", "cursor")
    documents = [json.loads(line) for line in lines.decode().split("\n")[:-1]]  # not splitlines: U+2028 is data
    assert len(rows) == len(documents) > 3000
    assert {json.loads(r["seal"])["status"] for r in rows} == {"sealed", "pending"}
    for row, document in zip(rows, documents, strict=True):
        assert int(row["id"]) == document["id"]
        assert (json.loads(row["new"]) if row["new"] else None) == document["new"]
        assert (row["actor"] or None) == document["actor"]
        assert json.loads(row["seal"]) == document["seal"]
    values = {d["new"]["v"] for d in documents if d["new"] and d["new"].get("v") is not None}
    assert set(ODD_TEXTS) - {""} <= values  # every hostile text arrived whole
    assert cli("log", "--table", "public.odd", "--limit", "0", "--format", "csv", dsn=hist.dsn).exit_code == 0
