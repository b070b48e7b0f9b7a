"""`log`'s machine formats (csv, jsonl, json) written by the server: each event's line, but for its seal status.

Formatting an event in Python (a dict of 26 fields, JSON-encoded) held exports to about 7,000 events a second,
where the server copies the same rows out at 120,000 and more. So the server writes each event here, field by
field in the order and form of :meth:`pgaudit_kit.review.events.Event.as_dict` and
:mod:`pgaudit_kit.review.render`, and the client only appends the seal status (which it finds in the blocks,
:class:`~pgaudit_kit.review.events.SealResolver`) and writes the bytes out. A JSON line is one text the server
builds; a CSV row is its cells, which COPY (FORMAT csv) quotes as csv_quoted does (the client quotes them itself
when it reads a page through a cursor). The fields are computed in each branch of the page's query
(query.select_events), below its sort: there the planner can hand them to parallel workers.

The output is the same byte for byte as the Python formatting of the same events (tests/db/test_review_export.py
compares the two on hostile values), with two exceptions of stored data the kit never writes: numbers inside
stored JSON documents are shown as stored (Python re-printed them through floats), and images that are not
JSON objects are shown as stored (Python failed on them).

The SQL below is the kit's own text; every value in it is a column of the event (e) or its transaction (t).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Copy, sql

from .query import OPERATIONS

# ISO 8601 in UTC, microseconds only when there are any, 'Z' (timeparse.format_time); times Python cannot
# hold (infinity, beyond year 9999) as the server writes them, as pgaudit_kit.pg.db's loader keeps them
_TIME = ("CASE WHEN {t} >= '0001-01-01 00:00:00+00' AND {t} < '10000-01-01 00:00:00+00' THEN "
         "pg_catalog.replace(pg_catalog.to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
         " || 'Z' ELSE {t}::text END")
_OPERATION = ("CASE e.op " + " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in OPERATIONS.items())
              + " ELSE e.op::text END")
# an UPDATE's row before: the new image with the previous values of the changed columns (Event.old)
_OLD = ("CASE WHEN e.op = 'U' THEN (CASE WHEN pg_catalog.jsonb_typeof(e.row_data) = 'object' THEN e.row_data"
        " ELSE '{}' END || CASE WHEN pg_catalog.jsonb_typeof(e.old_values) = 'object' THEN e.old_values"
        " ELSE '{}' END)::text WHEN e.op IN ('D', 'T') THEN e.row_data::text END")
# the changed columns, in the order of the stored document (a jsonpath: no subquery per event)
_CHANGED = ("CASE WHEN e.op = 'U' THEN CASE WHEN pg_catalog.jsonb_typeof(e.old_values) = 'object' THEN"
            " pg_catalog.jsonb_path_query_array(e.old_values, '$.keyvalue().key')::text ELSE '[]' END END")
_NEW = "CASE WHEN e.op IN ('I', 'U') THEN e.row_data::text END"
_DETAILS = "CASE WHEN e.op IN ('S', 'K', 'R') THEN e.row_data::text END"


# What a CSV cell may hold: a number or a time (never empty, never quoted), JSON text (never empty), any text
NEVER, JSON, TEXT = "never", "json", "text"


def _text(column: str, quoting: str = TEXT) -> tuple[str, str, str]:
    """A text column: as a JSON string, and as itself."""
    return f"pg_catalog.to_json({column})::text", column, quoting


def _number(expression: str) -> tuple[str, str, str]:
    return expression, expression, NEVER


def _json(expression: str) -> tuple[str, str, str]:
    return expression, expression, JSON


# name -> (SQL of the value's JSON text, NULL for null; SQL of the CSV cell's text, NULL for an empty cell;
# what the cell may hold)
FIELDS: dict[str, tuple[str, str, str]] = {
    "id": _number("e.id::text"),
    "xid": _number("e.xid::text"),
    "time": _text(_TIME.format(t="e.statement_ts"), NEVER),
    "op": _text("e.op::text"),  # a "char": the kit writes letters, a superuser's edit any character
    "operation": _text(_OPERATION),
    "schema": _text("e.schema_name"),
    "table": _text("e.table_name"),
    "partition": _text("e.partition_name"),
    "relid": _number("e.relid::text"),
    "pk": _json("e.pk::text"),
    "old": _json(_OLD),
    "new": _json(_NEW),
    "changed": _json(_CHANGED),
    "details": _json(_DETAILS),
    "statement": _text("e.statement"),
    "actor": _text("t.actor"),
    "acting_role": _text("t.acting_role"),
    "session_role": _text("t.session_role"),
    "context": _json("t.context::text"),
    "context_raw": _text("t.context_raw"),
    "application_name": _text("t.application_name"),
    "client_addr": _text("pg_catalog.host(t.client_addr)"),
    "client_port": _number("t.client_port::text"),
    "backend_pid": _number("t.backend_pid::text"),
    "xact_start": _text(_TIME.format(t="t.xact_start"), NEVER),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def csv_quoted(cell: str) -> str:
    """A CSV cell: quoted (its quotes doubled) when it holds a comma, a double quote, a line feed or a carriage
    return, as COPY (FORMAT csv) quotes it. Python's csv module leaves a carriage return bare, which its own
    reader then refuses."""
    if "," in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


@dataclass(frozen=True)
class LineForm:
    """The lines of one machine format: the columns each branch of the page's query selects (*columns*, the
    first e.id named id), how COPY sends them, and how the client reads an event's id, xid and line text up
    to the seal status from a cursor's row or from COPY."""

    columns: sql.Composable
    copy_format: str

    def from_row(self, row: Sequence[Any]) -> tuple[int, int, str]:
        if self.copy_format == "binary":  # id, xid, line
            return row[0], int(row[1]), row[2]
        # a CSV row's cells, quoted here as COPY would (an empty cell: NULL, see csv_cells)
        return row[0], int(row[1]), ",".join("" if c is None else csv_quoted(str(c)) for c in row) + ","

    def from_copy(self, copy: Copy, encoding: str) -> Iterator[tuple[int, int, str]]:
        if self.copy_format == "binary":
            copy.set_types(["int8", "text", "text"])
            for event_id, xid, text in copy.rows():
                yield event_id, int(xid), text
            return
        # the server sends one row per message (protocol: "messages sent from the backend will always
        # correspond to single data rows"); id and xid are its first two cells, numbers
        for data in copy:
            text = bytes(data).decode(encoding)
            event_id, xid, _ = text.split(",", 2)
            yield int(event_id), int(xid), text[:-1] + ","  # its newline gives way to the seal cell


def _json_columns() -> sql.SQL:
    """id, xid and the event as the JSON object of as_dict up to and including ``"seal": `` (the client
    appends the seal status and the closing brace)."""
    parts = []
    for index, (name, (json_sql, _, _)) in enumerate(FIELDS.items()):
        parts.append(_literal(("{" if index == 0 else ", ") + f'"{name}": '))
        parts.append(f"COALESCE({json_sql}, 'null')")
    parts.append(_literal(', "seal": '))
    return sql.SQL("e.id, e.xid::text, pg_catalog.concat(" + ", ".join(parts) + ")")


def _csv_columns() -> sql.SQL:
    """The cells of render.CSV_COLUMNS but the seal, e.id first (COPY writes an int8 as its text). An empty
    text is NULL: COPY (FORMAT csv) writes NULL bare and quotes an empty string."""
    cells = ["e.id"]
    for _, cell_sql, holds in list(FIELDS.values())[1:]:
        cells.append(f"NULLIF({cell_sql}, '')" if holds == TEXT else cell_sql)
    return sql.SQL(", ".join(cells))


JSON_LINES = LineForm(_json_columns(), "binary")
CSV_LINES = LineForm(_csv_columns(), "csv")
FORMS = {"json": JSON_LINES, "csv": CSV_LINES}
