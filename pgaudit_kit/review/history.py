"""The history of one row: its recorded events in order, with field-level diffs, and the row as it was at
a given time.

Images are what the kit recorded at the time, column name to the column's text output, so a dropped
column stays in the images from before the drop and a retyped column shows the text of the type it had
then. For each event, ``changes`` is what that write did (its before image against its after image) and
``gap`` is any difference between the previous event's after image and this event's before image: it is
not a write of this row that the log recorded, but a schema change (a column added, dropped or retyped:
the DDL events of the table are shown in between) or a write that capture did not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..core.errors import UsageError
from ..core.images import ABSENT, FieldChange, diff, write_gap
from .events import Event, SealResolver, stream
from .query import PkValue, ResolvedTable, equals_any, pk_equals, resolve_tables, select_events
from .timeparse import TimeBound, format_time

ROW_OPS = ("I", "U", "D", "T")


def image_before(event: Event) -> dict[str, Any] | None:
    return event.old


def image_after(event: Event) -> dict[str, Any] | None:
    return event.new


@dataclass
class HistoryEntry:
    """One event of the timeline: a write of the row, or a schema change of its table (op S)."""

    event: Event
    changes: list[FieldChange] = field(default_factory=list)
    gap: list[FieldChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        found = self.event.as_dict()
        found["changes"] = [c.as_dict() for c in self.changes]
        found["gap"] = [c.as_dict() for c in self.gap]
        return found


def resolve_row(conn: psycopg.Connection[Any], table: str, pk: PkValue) -> tuple[ResolvedTable, list[str]]:
    """The table's relids and the pk documents meaning *pk* there. UsageError for ``schema.*``."""
    if table.strip().endswith(".*"):
        raise UsageError("history takes one table, not schema.*")
    (resolved,) = resolve_tables(conn, [table], with_keys=True)
    return resolved, pk.documents(resolved.key_sets, table)


def _row_conditions(resolved: ResolvedTable, documents: Sequence[str]) -> tuple[sql.Composable, list[Any]]:
    relid_sql, relid_param = equals_any("e.relid", "oid", resolved.relids)
    pk_sql, *pk_params = pk_equals(list(documents))
    return (sql.SQL(f"{relid_sql} AND {pk_sql} AND e.op = ANY(%s::\"char\"[])"),  # noqa: S608 -- kit SQL only
            [relid_param, *pk_params, list(ROW_OPS)])


class RowHistory:
    """Iterable of chunks of :class:`HistoryEntry`, oldest first. With *limit*, only the newest *limit*
    writes of the row (and the schema changes among them) are shown; the gap of the first one shown is
    still computed against the write before it."""

    def __init__(self, conn: psycopg.Connection[Any], table: str, pk: PkValue, limit: int = 0) -> None:
        self._conn = conn
        self.resolved, self.documents = resolve_row(conn, table, pk)
        self.limit = limit
        self.count = 0
        row_sql, row_params = _row_conditions(self.resolved, self.documents)
        self._row_sql, self._row_params = row_sql, row_params
        given = tuple(sorted(name for name, _ in pk.columns))
        if given and given not in {tuple(sorted(k)) for k in self.resolved.key_sets} and conn.execute(
                sql.SQL("SELECT NOT EXISTS (SELECT FROM pgaudit_kit.recorded_event e WHERE ") + row_sql
                + sql.SQL(")"), row_params).fetchone() == (True,):
            # names that are not the key (and never were, under which a write was found) would match nothing:
            # say so instead of "no recorded writes"; a key column renamed since still finds its old events
            raise UsageError(f"--pk names {', '.join(given)}, not the primary key of {table} (its key columns: "
                             f"{' or '.join(', '.join(k) for k in self.resolved.key_sets) or 'none recorded'})")

    def __iter__(self) -> Iterator[list[HistoryEntry]]:
        conn = self._conn
        bounds = conn.execute(sql.SQL("SELECT min(e.id), max(e.id), count(*) FROM pgaudit_kit.recorded_event e WHERE ")
                              + self._row_sql, self._row_params).fetchone()
        if not bounds or bounds[0] is None:
            return
        first, last, total = int(bounds[0]), int(bounds[1]), int(bounds[2])
        start, hidden = first, 0
        if self.limit and total > self.limit:
            # the newest `limit` writes, plus the one before them (not shown) for the first one's gap
            row = conn.execute(sql.SQL("SELECT e.id FROM pgaudit_kit.recorded_event e WHERE ") + self._row_sql
                               + sql.SQL(" ORDER BY e.id DESC OFFSET %s LIMIT 1"),
                               [*self._row_params, self.limit]).fetchone()
            assert row is not None
            start, hidden = int(row[0]), 1
        relid_sql, relid_param = equals_any("e.relid", "oid", self.resolved.relids)
        query, params = select_events(sql.SQL(" WHERE (") + self._row_sql + sql.SQL(" AND e.id >= %s) OR (")
                                      + sql.SQL(relid_sql) + sql.SQL(" AND e.op = 'S' AND e.id > %s AND e.id < %s)"),
                                      [*self._row_params, start, relid_param, start, last])
        previous: dict[str, Any] | None = None
        known = False
        showing = not hidden  # the hidden write before the page only sets `previous`
        for events in stream(conn, query, params, SealResolver(conn)):
            entries = []
            for event in events:
                if event.op == "S":
                    if showing:
                        entries.append(HistoryEntry(event))
                    continue
                before, after = image_before(event), image_after(event)
                entry = HistoryEntry(event, diff(before, after), write_gap(previous, before) if known else [])
                previous, known = after, True
                if not showing:
                    showing = True
                    continue
                entries.append(entry)
                self.count += 1
            if entries:
                yield entries


@dataclass
class AsOf:
    """The row at a time: ``exists`` (row holds the image), ``deleted`` (by event), or ``unknown`` (no
    write of it was recorded by then; first is its first recorded event, if any)."""

    state: str
    at: TimeBound
    documents: list[str]
    row: dict[str, Any] | None = None
    event: Event | None = None
    first: Event | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.at.text, "state": self.state, "row": self.row,
                "event": self.event.as_dict() if self.event else None,
                "first_event": self.first.as_dict() if self.first else None}


def as_of(conn: psycopg.Connection[Any], table: str, pk: PkValue, when: TimeBound) -> AsOf:
    """The row as the last recorded write whose statement started at or before *when* left it."""
    resolved, documents = resolve_row(conn, table, pk)
    row_sql, row_params = _row_conditions(resolved, documents)
    bound_sql, bound_param = when.sql()
    resolver = SealResolver(conn)
    query, params = select_events(sql.SQL(" WHERE ") + row_sql + sql.SQL(" AND e.statement_ts <= ") + bound_sql,
                                  [*row_params, bound_param], descending=True, limit=1)
    found = [e for chunk in stream(conn, query, params, resolver, 1) for e in chunk]
    if found:
        event = found[0]
        after = image_after(event)
        return AsOf("exists" if after is not None else "deleted", when, list(documents), after, event)
    query, params = select_events(sql.SQL(" WHERE ") + row_sql, row_params, limit=1)
    first = [e for chunk in stream(conn, query, params, resolver, 1) for e in chunk]
    return AsOf("unknown", when, list(documents), None, None, first[0] if first else None)


def describe_key(documents: Sequence[str]) -> str:
    """How a row's key is named in messages: id=7 or (a=1, b=x)."""
    parsed = json.loads(documents[0]) if documents else {}
    text = ", ".join(f"{k}={v}" for k, v in parsed.items())
    return text if len(parsed) == 1 else f"({text})"


__all__ = ["ABSENT", "AsOf", "FieldChange", "HistoryEntry", "RowHistory", "as_of", "describe_key", "diff",
           "format_time", "write_gap"]
