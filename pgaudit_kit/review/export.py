"""`log`'s machine formats (csv, jsonl, json) written by the server: each event's line, but for its seal status.

Formatting an event in Python (a dict of 26 fields, JSON-encoded) held exports to about 7,000 events a second,
where the server copies the same rows out at 120,000 and more. So the server writes each line here, field by
field in the order and form of :meth:`pgaudit_kit.review.events.Event.as_dict` and
:mod:`pgaudit_kit.review.render`, and the client only appends the seal status (which it finds in the blocks,
:class:`~pgaudit_kit.review.events.SealResolver`) and writes the bytes out. The output is the same byte for
byte as the Python formatting of the same events (tests/db/test_review_export.py compares the two on hostile
values), with two exceptions of stored data the kit never writes: numbers inside stored JSON documents are
shown as stored (Python re-printed them through floats), and images that are not JSON objects are shown as
stored (Python failed on them).

The SQL below is the kit's own text; every value in it is a column of the event or its transaction.
"""

from __future__ import annotations

from psycopg import sql

from .query import OPERATIONS

# The columns of query.SELECT_EVENTS, named: the formatting reads the rows of the page's own query.
COLUMNS = ("id", "xid", "statement_ts", "op", "relid", "schema_name", "table_name", "partition_name", "pk", "row_data",
           "old_values", "statement", "has_transaction", "actor", "acting_role", "session_role", "context",
           "context_raw", "application_name", "client_addr", "client_port", "backend_pid", "xact_start")

# ISO 8601 in UTC, microseconds only when there are any, 'Z' (timeparse.format_time); times Python cannot
# hold (infinity, beyond year 9999) as the server writes them, as pgaudit_kit.pg.db's loader keeps them
_TIME = ("CASE WHEN {t} >= '0001-01-01 00:00:00+00' AND {t} < '10000-01-01 00:00:00+00' THEN "
         "pg_catalog.replace(pg_catalog.to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
         " || 'Z' ELSE {t}::text END")
_OPERATION = ("CASE r.op " + " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in OPERATIONS.items())
              + " ELSE r.op END")
# an UPDATE's row before: the new image with the previous values of the changed columns (Event.old)
_OLD = ("CASE WHEN r.op = 'U' THEN (CASE WHEN pg_catalog.jsonb_typeof(r.row_data) = 'object' THEN r.row_data"
        " ELSE '{}' END || CASE WHEN pg_catalog.jsonb_typeof(r.old_values) = 'object' THEN r.old_values"
        " ELSE '{}' END)::text WHEN r.op IN ('D', 'T') THEN r.row_data::text END")
# the changed columns, in the order of the stored document (a jsonpath: no subquery per event)
_CHANGED = ("CASE WHEN r.op = 'U' THEN CASE WHEN pg_catalog.jsonb_typeof(r.old_values) = 'object' THEN"
            " pg_catalog.jsonb_path_query_array(r.old_values, '$.keyvalue().key')::text ELSE '[]' END END")
_NEW = "CASE WHEN r.op IN ('I', 'U') THEN r.row_data::text END"
_DETAILS = "CASE WHEN r.op IN ('S', 'K', 'R') THEN r.row_data::text END"


# How a CSV cell may need quoting: never (numbers, times), JSON text (a comma or a double quote: JSON text has
# no raw line breaks), any text (a comma, a double quote, a line feed, a carriage return)
NEVER, JSON, TEXT = "never", "json", "text"


def _text(column: str, quoting: str = TEXT) -> tuple[str, str, str]:
    """A text column: as a JSON string, and as itself."""
    return f"pg_catalog.to_json({column})::text", column, quoting


def _number(expression: str) -> tuple[str, str, str]:
    return expression, expression, NEVER


def _json(expression: str) -> tuple[str, str, str]:
    return expression, expression, JSON


# name -> (SQL of the value's JSON text, NULL for null; SQL of the CSV cell's text, NULL for an empty cell;
# how the cell may need quoting)
FIELDS: dict[str, tuple[str, str, str]] = {
    "id": _number("r.id::text"),
    "xid": _number("r.xid"),
    "time": _text(_TIME.format(t="r.statement_ts"), NEVER),
    "op": _text("r.op"),  # a "char": the kit writes letters, a superuser's edit any character
    "operation": _text(_OPERATION),
    "schema": _text("r.schema_name"),
    "table": _text("r.table_name"),
    "partition": _text("r.partition_name"),
    "relid": _number("r.relid::text"),
    "pk": _json("r.pk::text"),
    "old": _json(_OLD),
    "new": _json(_NEW),
    "changed": _json(_CHANGED),
    "details": _json(_DETAILS),
    "statement": _text("r.statement"),
    "actor": _text("r.actor"),
    "acting_role": _text("r.acting_role"),
    "session_role": _text("r.session_role"),
    "context": _json("r.context"),
    "context_raw": _text("r.context_raw"),
    "application_name": _text("r.application_name"),
    "client_addr": _text("r.client_addr"),
    "client_port": _number("r.client_port::text"),
    "backend_pid": _number("r.backend_pid::text"),
    "xact_start": _text(_TIME.format(t="r.xact_start"), NEVER),
}
_NEEDS_QUOTES = {
    JSON: "pg_catalog.strpos({c}, '\"') > 0 OR pg_catalog.strpos({c}, ',') > 0",
    TEXT: "{c} ~ E'[,\"\\n\\r]'",  # an E'' string: \n and \r stand for the characters
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rows(query: sql.Composable) -> sql.Composed:
    return sql.SQL("(") + query + sql.SQL(") AS r(" + ", ".join(COLUMNS) + ")")


def json_lines(query: sql.Composable, descending: bool) -> sql.Composed:
    """id, xid and, for each row of *query* (SELECT_EVENTS columns), the event as the JSON object of as_dict up
    to and including ``"seal": `` (the client appends the seal status and the closing brace)."""
    parts = []
    for index, (name, (json_sql, _, _)) in enumerate(FIELDS.items()):
        parts.append(_literal(("{" if index == 0 else ", ") + f'"{name}": '))
        parts.append(f"COALESCE({json_sql}, 'null')")
    parts.append(_literal(', "seal": '))
    return (sql.SQL("SELECT r.id, r.xid, pg_catalog.concat(" + ", ".join(parts) + ") FROM ")  # noqa: S608 -- kit SQL
            + _rows(query)
            + sql.SQL(" ORDER BY r.id DESC" if descending else " ORDER BY r.id"))


def csv_lines(query: sql.Composable, descending: bool) -> sql.Composed:
    """id, xid and, for each row of *query*, the event as a CSV row of render.CSV_COLUMNS up to and including
    the comma before the seal column. A cell holding a comma, a double quote, a line feed or a carriage return
    is quoted, its quotes doubled (render.csv_row)."""
    cells = ", ".join(f"{cell_sql} AS c{i}" for i, (_, cell_sql, _) in enumerate(FIELDS.values()))
    quoted = []
    for i, (_, _, quoting) in enumerate(FIELDS.values()):
        if quoting == NEVER:
            quoted.append(f"c{i}")
        else:
            quoted.append(f"CASE WHEN {_NEEDS_QUOTES[quoting].format(c=f'c{i}')}"
                          f" THEN '\"' || pg_catalog.replace(c{i}, '\"', '\"\"') || '\"' ELSE c{i} END")
        quoted.append("','")
    order = " ORDER BY r.id DESC" if descending else " ORDER BY r.id"
    # OFFSET 0: each cell is computed once (the quoting reads it twice)
    return (sql.SQL("SELECT id, xid, pg_catalog.concat(" + ", ".join(quoted) + ")"  # noqa: S608 -- kit SQL
                    " FROM (SELECT r.id, r.xid, " + cells + " FROM ")
            + _rows(query) + sql.SQL(order + " OFFSET 0) c" + order.replace("r.", "")))
