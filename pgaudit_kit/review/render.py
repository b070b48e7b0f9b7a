"""Output of the review commands: streamed, chunk by chunk, as an aligned table, JSON, JSON lines or CSV.

Machine formats carry every field exactly (json, jsonl and csv parse back to the same values: in CSV an
empty field is null, and pk / old / new / changed / details / context / seal hold compact JSON). The table
is for people: values are cut to keep one line per event, and control characters in recorded data are
shown escaped, so history cannot write terminal escape sequences to a reviewer's screen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from .events import Event, Line, RawJson, SealStatus, Transaction
from .history import AsOf, HistoryEntry, describe_key
from .query import Cursor
from .timeparse import format_time

CSV_COLUMNS = ("id", "xid", "time", "op", "operation", "schema", "table", "partition", "relid", "pk", "old", "new",
               "changed", "details", "statement", "actor", "acting_role", "session_role", "context", "context_raw",
               "application_name", "client_addr", "client_port", "backend_pid", "xact_start", "seal")
CSV_JSON_COLUMNS = frozenset({"pk", "old", "new", "changed", "details", "context", "seal"})
# formats the server writes for `log` (review.export), and the form of line each takes
SERVER_LINES = {"csv": "csv", "json": "json", "jsonl": "json"}


def dumps(value: Any) -> str:
    """Compact JSON; RawJson (jsonb text from the database) is spliced in unchanged."""
    if isinstance(value, RawJson):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(json.dumps(str(k), ensure_ascii=False) + ": " + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def printable(text: str) -> str:
    """Control and other non-printable characters escaped (\\n, \\x1b, \\u2028 ...)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif char in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[char])
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return "".join(out)


def cut(text: str, width: int) -> str:
    text = printable(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def value_text(value: Any, width: int = 40) -> str:
    """A column value for people: strings bare, NULL as NULL, anything else as JSON."""
    if value is None:
        return "NULL"
    return cut(value if isinstance(value, str) else dumps(value), width)


def key_text(pk: dict[str, Any] | None) -> str:
    if not pk:
        return ""
    return cut(",".join(f"{k}={value_text(v, 30)}" for k, v in pk.items()), 40)


def who_text(event: Event | Transaction) -> str:
    if isinstance(event, Event) and not event.has_transaction:
        return "(no transaction record)"
    role = event.acting_role or ""
    if event.session_role and event.session_role != event.acting_role:
        role = f"{event.session_role} as {role}"
    return cut(f"{event.actor} ({role})" if event.actor else role, 40)


def change_text(event: Event) -> str:
    if event.op == "U":
        old, new = event.old or {}, event.new or {}
        parts = [f"{c}: {value_text(old.get(c))} → {value_text(new.get(c))}" for c in event.changed or []]
        return cut("; ".join(parts), 160)
    if event.op == "I":
        return cut("new: " + ", ".join(f"{k}={value_text(v, 30)}" for k, v in (event.new or {}).items()), 160)
    if event.op in ("D", "T"):
        return cut("removed: " + ", ".join(f"{k}={value_text(v, 30)}" for k, v in (event.old or {}).items()), 160)
    details = dict(event.details or {})
    if event.op == "S":
        return cut(f"{details.get('command_tag', '')} {details.get('object_identity') or ''}".strip(), 160)
    if event.op == "R":
        return cut(f"{details.get('command', '')} {dumps(details.get('filter', {}))}", 160)
    action = details.pop("action", "")
    rest = ", ".join(f"{k}={value_text(v, 40)}" for k, v in details.items())
    return cut(f"{action} {rest}".strip(), 160)


def _table_row(event: Event) -> list[str]:
    time = format_time(event.time) or ""
    return [str(event.id), time.replace("T", " ").rstrip("Z"), event.operation,
            cut(event.qualified_table or "", 40), key_text(event.pk), who_text(event), str(event.xid),
            str(event.seal).upper() if event.seal.status == "not_in_log" else str(event.seal), change_text(event)]


TABLE_HEADERS = ["ID", "TIME (UTC)", "OP", "TABLE", "KEY", "WHO", "TX", "SEAL", "CHANGE"]


class EventWriter:
    """Writes events as they stream; call begin(), write() per chunk, end()."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.count = 0

    def _put(self, text: str) -> None:
        self.out.write(text.encode())

    def begin(self) -> None:
        pass

    def write(self, events: Sequence[Event]) -> None:
        raise NotImplementedError

    def write_lines(self, lines: Sequence[Line]) -> None:
        """Events the server formatted (review.export): machine formats only."""
        raise NotImplementedError

    def write_chunk(self, chunk: Sequence[Event] | Sequence[Line]) -> None:
        """A chunk of an EventPage, of events or of lines."""
        if chunk and isinstance(chunk[0], Line):
            self.write_lines(chunk)  # type: ignore[arg-type]
        else:
            self.write(chunk)  # type: ignore[arg-type]

    def end(self, next_cursor: Cursor | None = None, note: str = "") -> str | None:
        """Finish; returns the line to print on stderr about the next page (formats that keep stdout pure)."""
        self.out.flush()
        return f"more events: --cursor {next_cursor}" if next_cursor else None


class TableWriter(EventWriter):
    def __init__(self, out: IO[bytes]) -> None:
        super().__init__(out)
        self.widths: list[int] | None = None

    def write(self, events: Sequence[Event]) -> None:
        rows = [_table_row(e) for e in events]
        if self.widths is None:
            self.widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(TABLE_HEADERS)]
            self._put(self._line(TABLE_HEADERS))
        for row in rows:
            self._put(self._line(row))
        self.count += len(events)
        self.out.flush()

    def _line(self, cells: Sequence[str]) -> str:
        assert self.widths is not None
        return "  ".join(c.ljust(self.widths[i]) for i, c in enumerate(cells[:-1])) + "  " + cells[-1] + "\n"

    def end(self, next_cursor: Cursor | None = None, note: str = "") -> str | None:
        summary = f"({self.count} event{'s' if self.count != 1 else ''}"
        if next_cursor:
            summary += f"; next page: --cursor {next_cursor}"
        self._put(summary + (f"; {note}" if note else "") + ")\n")
        self.out.flush()
        return None


class JsonWriter(EventWriter):
    """One JSON document: {"events": [...], "next_cursor": ...} (plus *extra* keys first, e.g. transaction)."""

    def __init__(self, out: IO[bytes], extra: dict[str, Any] | None = None) -> None:
        super().__init__(out)
        self.extra = extra or {}

    def begin(self) -> None:
        self._put("{" + "".join(f"{json.dumps(k)}: {dumps(v)}, " for k, v in self.extra.items()) + '"events": [')

    def write(self, events: Sequence[Event]) -> None:
        self._items(["\n  " + dumps(e.as_dict()) for e in events])

    def write_lines(self, lines: Sequence[Line]) -> None:
        self._items(["\n  " + line.text + seal_json(line.seal) + "}" for line in lines])

    def _items(self, items: list[str]) -> None:
        self._put(("," if self.count and items else "") + ",".join(items))
        self.count += len(items)
        self.out.flush()

    def end(self, next_cursor: Cursor | None = None, note: str = "") -> str | None:
        self._put(("\n" if self.count else "") + '], "next_cursor": ' + dumps(str(next_cursor) if next_cursor else None)
                  + "}\n")
        self.out.flush()
        return None


class JsonlWriter(EventWriter):
    def write(self, events: Sequence[Event]) -> None:
        self._lines([dumps(e.as_dict()) + "\n" for e in events])

    def write_lines(self, lines: Sequence[Line]) -> None:
        self._lines([line.text + seal_json(line.seal) + "}\n" for line in lines])

    def _lines(self, lines: list[str]) -> None:
        self._put("".join(lines))
        self.count += len(lines)
        self.out.flush()


def seal_json(seal: SealStatus) -> str:
    """dumps(seal.as_dict()), without building the dict (an export writes one per event)."""
    if seal.status == "sealed":
        return f'{{"status": "sealed", "seq": {seal.seq}, "block": {seal.block}}}'
    return f'{{"status": "{seal.status}"}}'


def csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in CSV_JSON_COLUMNS:
        return dumps(value)
    return str(value)


def csv_quoted(cell: str) -> str:
    """A CSV cell: quoted (its quotes doubled) when it holds a comma, a double quote, a line feed or a carriage
    return. Python's csv module leaves a carriage return bare, which its own reader then refuses."""
    if "," in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_row(cells: Sequence[str]) -> str:
    return ",".join(csv_quoted(c) for c in cells) + "\n"


class CsvWriter(EventWriter):
    def begin(self) -> None:
        self._put(csv_row(CSV_COLUMNS))

    def write(self, events: Sequence[Event]) -> None:
        rows = []
        for event in events:
            data = event.as_dict()
            rows.append(csv_row([csv_cell(c, data[c]) for c in CSV_COLUMNS]))
        self._rows(rows)

    def write_lines(self, lines: Sequence[Line]) -> None:
        self._rows([line.text + csv_quoted(seal_json(line.seal)) + "\n" for line in lines])

    def _rows(self, rows: list[str]) -> None:
        self._put("".join(rows))
        self.count += len(rows)
        self.out.flush()


def event_writer(fmt: str, out: IO[bytes], extra: dict[str, Any] | None = None) -> EventWriter:
    if fmt == "table":
        return TableWriter(out)
    if fmt == "json":
        return JsonWriter(out, extra)
    if fmt == "jsonl":
        return JsonlWriter(out)
    if fmt == "csv":
        return CsvWriter(out)
    raise ValueError(fmt)


# -- tx ------------------------------------------------------------------------------------------------
def transaction_header(tx: Transaction | None, xid: int) -> str:
    if tx is None:
        return f"transaction {xid}: no who/where record\n"
    lines = [f"transaction {tx.xid}, started {format_time(tx.xact_start)}",
             f"  who:          {who_text(tx)}",
             f"  context:      {cut(str(tx.context), 200) if tx.context is not None else ''}"
             + (f"(not JSON) {cut(tx.context_raw, 200)}" if tx.context_raw is not None else ""),
             f"  application:  {cut(tx.application_name or '', 80)}",
             f"  client:       {tx.client_addr or 'local socket'}{':' + str(tx.client_port) if tx.client_port else ''}"
             f", backend pid {tx.backend_pid}"]
    return "\n".join(lines) + "\n\n"


# -- history -------------------------------------------------------------------------------------------
def _change_lines(changes: Sequence[Any], indent: str) -> list[str]:
    lines = []
    for change in changes:
        data = change.as_dict()
        old = value_text(data["old"], 60) if "old" in data else None
        new = value_text(data["new"], 60) if "new" in data else None
        column = cut(change.column, 40)
        if old is None:
            lines.append(f"{indent}+ {column}: {new}")
        elif new is None:
            lines.append(f"{indent}- {column}: {old}")
        else:
            lines.append(f"{indent}~ {column}: {old} → {new}")
    return lines


class TimelineText:
    """The timeline for people. The DDL events one statement recorded (the statement itself and the
    kit's own re-generation of capture) are shown as one line with the statement, across chunks."""

    def __init__(self) -> None:
        self._ddl: tuple[int, str | None] | None = None
        self._ddl_line = ""
        self._ddl_count = 0
        self._pending: list[str] = []

    def _head(self, event: Event, what: str = "") -> str:
        seal = str(event.seal).upper() if event.seal.status == "not_in_log" else str(event.seal)
        return (f"#{event.id}  {format_time(event.time)}  {event.operation:<8}  {who_text(event)}  tx {event.xid}  "
                f"{seal}" + (f"  {what}" if what else ""))

    def _flush_ddl(self) -> list[str]:
        if self._ddl is None:
            return []
        line = self._ddl_line + (f" ({self._ddl_count} DDL events)" if self._ddl_count > 1 else "")
        self._ddl = None
        return [line]

    def lines(self, entries: Sequence[HistoryEntry], final: bool = False) -> str:
        lines: list[str] = []
        for entry in entries:
            event = entry.event
            if event.op == "S":
                key = (event.xid, event.statement)
                if key == self._ddl:
                    self._ddl_count += 1
                    continue
                lines += self._flush_ddl()
                self._ddl, self._ddl_count = key, 1
                self._ddl_line = self._head(event, cut(" ".join((event.statement or change_text(event)).split()), 120))
                continue
            lines += self._flush_ddl()
            lines.append(self._head(event))
            if entry.gap:
                lines.append("    not by a recorded write of this row (schema change, or a write capture did not see):")
                lines += _change_lines(entry.gap, "      ")
            lines += _change_lines(entry.changes, "    ")
        if final:
            lines += self._flush_ddl()
        return "\n".join(lines) + "\n" if lines else ""


class HistoryWriter:
    """Streams a row's timeline: a table (timeline text), one JSON document, or JSON lines."""

    def __init__(self, fmt: str, out: IO[bytes], label: str, table: str, documents: Sequence[str]) -> None:
        self.fmt, self.out, self.label = fmt, out, cut(label, 200)
        self.table, self.documents = table, documents
        self.count = 0
        self.timeline = TimelineText()

    def _put(self, text: str) -> None:
        self.out.write(text.encode())

    def begin(self) -> None:
        if self.fmt == "json":
            pk = RawJson(self.documents[0]) if len(self.documents) == 1 else [RawJson(d) for d in self.documents]
            self._put("{" + f'"table": {dumps(self.table)}, "pk": {dumps(pk)}, "events": [')

    def write(self, entries: Sequence[HistoryEntry]) -> None:
        if self.fmt == "table":
            if not self.count:
                self._put(f"{self.label}: recorded history, oldest first\n")
            self._put(self.timeline.lines(entries))
        elif self.fmt == "json":
            self._put(("," if self.count else "") + ",".join("\n  " + dumps(e.as_dict()) for e in entries))
        else:
            self._put("".join(dumps(e.as_dict()) + "\n" for e in entries))
        self.count += len(entries)
        self.out.flush()

    def end(self, writes: int) -> None:
        if self.fmt == "table":
            self._put(self.timeline.lines([], final=True))
        if self.fmt == "json":
            self._put(("\n" if self.count else "") + "]}\n")
        elif self.fmt == "table":
            self._put(f"({writes} write{'s' if writes != 1 else ''})\n" if self.count
                      else f"{self.label}: no recorded writes\n")
        self.out.flush()


def as_of_text(table: str, result: AsOf) -> str:
    row = f"{table} {describe_key(result.documents)}"
    event = result.event
    if result.state == "unknown":
        first = result.first
        return (f"{row} as of {result.at.text}: no recorded state"
                + (f" (its first recorded event is #{first.id} {first.operation} at {format_time(first.time)})"
                   if first else " (no event of it is recorded)") + "\n")
    assert event is not None
    by = f"#{event.id} {event.operation} at {format_time(event.time)} by {who_text(event)}, tx {event.xid}"
    if result.state == "deleted":
        return f"{row} as of {result.at.text}: did not exist (removed by {by})\n"
    lines = [f"{row} as of {result.at.text}: as written by {by}"]
    width = max((len(cut(k, 40)) for k in result.row or {}), default=0)
    for column, value in (result.row or {}).items():
        lines.append(f"  {cut(column, 40).ljust(width)}  {value_text(value, 200)}")
    return "\n".join(lines) + "\n"
