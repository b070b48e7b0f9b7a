"""Review filters: what the command line asks for, checked, and turned into one composed SQL query.

Every value the user gives reaches the database as a bound parameter; the only identifiers in the SQL
are the kit's own, written here. Table names are resolved by the server (``parse_ident``, then
:func:`pgaudit_kit.pg.relations.find_relation`) into the OIDs recorded in ``pgaudit_kit.event.relid``,
including the OIDs a table had under earlier names (enrolment control events) and before a restore
(re-bind events), so the history of a renamed, dropped or restored table is found whole.

Invalid input raises :class:`~pgaudit_kit.core.errors.UsageError` (exit 2) before anything is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..core.errors import UsageError
from ..pg.relations import find_relation
from .timeparse import TimeBound
from .vocabulary import ORDERS

OPERATIONS = {"I": "INSERT", "U": "UPDATE", "D": "DELETE", "T": "TRUNCATE", "S": "DDL", "K": "CONTROL", "R": "REVIEW"}
_OP_NAMES = {name.lower(): code for code, name in OPERATIONS.items()}
# What changed something: data, schema, the kit's own settings. Reviews (R) are shown on request, so that
# listing history does not list mostly the listings themselves.
DEFAULT_OPS = frozenset("IUDTSK")
ALL_OPS = frozenset(OPERATIONS)
MAX_TXID = 2**63 - 1
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def check_text(value: str, option: str) -> str:
    """A filter value PostgreSQL can hold as text: no NUL, valid Unicode (argv can carry neither safely)."""
    if "\x00" in value:
        raise UsageError(f"{option}: values cannot contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{option}: the value is not valid UTF-8") from None
    return value


def parse_ops(values: Iterable[str]) -> frozenset[str]:
    """``--op`` values: letters (I U D T S K R), names (insert, ..., ddl, control, review), comma lists, all."""
    ops: set[str] = set()
    for value in values:
        for part in value.split(","):
            word = part.strip()
            if not word:
                continue
            if word.lower() == "all":
                ops |= ALL_OPS
            elif word.upper() in OPERATIONS:
                ops.add(word.upper())
            elif word.lower() in _OP_NAMES:
                ops.add(_OP_NAMES[word.lower()])
            else:
                raise UsageError(f"--op {word!r}: choose from {', '.join(OPERATIONS)} "
                                 f"({', '.join(n.lower() for n in OPERATIONS.values())}) or all")
    return frozenset(ops) if ops else DEFAULT_OPS


@dataclass(frozen=True)
class ContextMatch:
    """``--context KEY=VALUE``: the transaction's context JSON has KEY with VALUE (a string equal to VALUE,
    or, when VALUE is itself a JSON number, true, false or null, that value)."""

    key: str
    value: str

    @property
    def candidates(self) -> list[str]:
        """jsonb documents the context must contain (one of)."""
        found = [json.dumps({self.key: self.value}, ensure_ascii=False)]
        if self.value in ("true", "false", "null") or _JSON_NUMBER.fullmatch(self.value):
            found.append("{" + json.dumps(self.key, ensure_ascii=False) + ": " + self.value + "}")
        return found

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


def parse_context(value: str) -> ContextMatch:
    check_text(value, "--context")
    key, sep, wanted = value.partition("=")
    if not sep or not key:
        raise UsageError(f"--context {value[:80]!r}: give KEY=VALUE, e.g. request_id=r-42")
    return ContextMatch(key, wanted)


@dataclass(frozen=True)
class PkValue:
    """``--pk``: one value for a single-column key, or a JSON object naming every key column. Values are
    compared as the text the kit records (a JSON number is taken as written: 5 is "5", 5.0 is "5.0")."""

    text: str
    scalar: str | None = None
    columns: tuple[tuple[str, str], ...] = ()

    def documents(self, key_sets: Sequence[tuple[str, ...]], table: str) -> list[str]:
        """The recorded pk jsonb documents this value means for a table with these key column sets. A JSON
        object is taken as given (key columns renamed since are found under their old names too)."""
        if self.scalar is None:
            return [json.dumps(dict(self.columns), ensure_ascii=False, sort_keys=True)]
        single = [k for k in key_sets if len(k) == 1]
        if not single:
            if not key_sets:
                raise UsageError(f"{table} has no recorded primary key to look {self.text[:80]!r} up in")
            raise UsageError(f"the primary key of {table} has several columns: give --pk as JSON, e.g. "
                             + json.dumps({name: "..." for name in key_sets[0]}))
        return sorted({json.dumps({k[0]: self.scalar}, ensure_ascii=False) for k in single})


def parse_pk(value: str) -> PkValue:
    check_text(value, "--pk")
    stripped = value.strip()
    if stripped.startswith("{"):
        try:
            parsed = json.loads(stripped, parse_int=str, parse_float=str, parse_constant=str)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            columns: list[tuple[str, str]] = []
            for name, item in parsed.items():
                if isinstance(item, bool):
                    item = "true" if item else "false"
                if not isinstance(item, str):
                    raise UsageError(f"--pk: key column {name!r} must be a string or number, not {json.dumps(item)}")
                columns.append((check_text(name, "--pk"), check_text(item, "--pk")))
            if not columns:
                raise UsageError("--pk {}: name at least one key column")
            return PkValue(text=value, columns=tuple(columns))
    return PkValue(text=value, scalar=value)


def parse_txid(value: str) -> int:
    """A top-level transaction id as recorded (pg_current_xact_id(), 64-bit)."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_TXID:
        raise UsageError(f"transaction id {value[:80]!r} is not a number from 0 to {MAX_TXID}")
    return int(text)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after event *last_id* in *order* (printed as ``newest:1234``)."""

    order: str
    last_id: int

    def __str__(self) -> str:
        return f"{self.order}:{self.last_id}"


def parse_cursor(value: str) -> Cursor:
    order, sep, number = value.strip().partition(":")
    if sep and order in ORDERS and number.isascii() and number.isdigit() and len(number) <= 19:
        return Cursor(order, int(number))
    raise UsageError(f"--cursor {value[:80]!r} is not a cursor printed by a previous page (e.g. newest:1234)")


@dataclass(frozen=True)
class EventFilter:
    """The filters of log / watch. Empty fields do not filter; the fields combine with AND, the values
    given for one repeatable option with OR."""

    tables: tuple[str, ...] = ()
    ops: frozenset[str] = DEFAULT_OPS
    actors: tuple[str, ...] = ()
    since: TimeBound | None = None
    until: TimeBound | None = None
    pk: PkValue | None = None
    txids: tuple[int, ...] = ()
    changed: tuple[str, ...] = ()
    context: tuple[ContextMatch, ...] = ()

    def __post_init__(self) -> None:
        for name in self.tables:
            check_text(name, "--table")
        for actor in self.actors:
            check_text(actor, "--actor")
        for column in self.changed:
            check_text(column, "--changed")
        if self.pk is not None and not self.tables:
            raise UsageError("--pk needs --table: a key value means something only in its table")

    def as_review(self) -> dict[str, Any]:
        """The filter as recorded in the review event (as given, JSON-serialisable)."""
        found: dict[str, Any] = {}
        if self.tables:
            found["table"] = list(self.tables)
        if self.ops != DEFAULT_OPS:
            found["op"] = "".join(sorted(self.ops))
        if self.actors:
            found["actor"] = list(self.actors)
        if self.since:
            found["since"] = self.since.text
        if self.until:
            found["until"] = self.until.text
        if self.pk:
            found["pk"] = self.pk.text
        if self.txids:
            found["tx"] = [str(t) for t in self.txids]
        if self.changed:
            found["changed"] = list(self.changed)
        if self.context:
            found["context"] = [str(c) for c in self.context]
        return found


# -- tables --------------------------------------------------------------------------------------------
@dataclass
class ResolvedTable:
    """A --table argument and the recorded relids it stands for."""

    name: str
    relids: list[int]
    key_sets: list[tuple[str, ...]] = field(default_factory=list)


def resolve_tables(conn: psycopg.Connection[Any], names: Sequence[str], with_keys: bool = False) -> list[ResolvedTable]:
    """Resolve table names (``schema.table``, ``table`` through search_path, ``schema.*``) to relids.

    A table matches by its current OID and by every OID it was enrolled, renamed or re-bound under. With
    *with_keys*, also the primary key column sets (to read --pk values with). Raises UsageError for a
    malformed name or one that matches nothing ever recorded.
    """
    control = conn.execute(
        "SELECT relid::int8, schema_name, table_name, row_data->>'action', row_data->>'old_relid'"
        "  FROM pgaudit_kit.event WHERE op = 'K' AND relid IS NOT NULL").fetchall()
    resolved = []
    for name in names:
        relids = _relids_for(conn, name, control)
        # follow re-binds (restored tables got new OIDs; events before the restore carry the old one)
        grew = True
        while grew:
            grew = False
            for relid, _, _, action, old in control:
                if action == "rebind" and relid in relids and old and old.isdigit() and int(old) not in relids:
                    relids.add(int(old))
                    grew = True
        if not relids:
            raise UsageError(f"--table {name[:200]!r}: no such table is enrolled or has recorded history")
        resolved.append(ResolvedTable(name, sorted(relids), _key_sets(conn, sorted(relids)) if with_keys else []))
    return resolved


def _parse_name(conn: psycopg.Connection[Any], text: str) -> list[str]:
    try:
        with conn.transaction():
            row = conn.execute("SELECT pg_catalog.parse_ident(%s, true)", (text,)).fetchone()
    except psycopg.errors.InvalidParameterValue:
        raise UsageError(f"--table {text[:200]!r} is not a valid table name "
                         "(schema.table, table or schema.*)") from None
    parts = list(row[0]) if row and row[0] else []
    if not 1 <= len(parts) <= 2:
        raise UsageError(f"--table {text[:200]!r}: give schema.table, table or schema.*")
    return [str(p) for p in parts]


def _relids_for(conn: psycopg.Connection[Any], name: str, control: Sequence[tuple[Any, ...]]) -> set[int]:
    text = name.strip()
    if text.endswith(".*"):
        parts = _parse_name(conn, text[:-2])
        if len(parts) != 1:
            raise UsageError(f"--table {text[:200]!r}: give schema.* with one schema name")
        schema = parts[0]
        rows = conn.execute(
            "SELECT relid::int8 FROM pgaudit_kit.enrolled_table WHERE schema_name = %s "
            "UNION SELECT c.oid::int8 FROM pg_catalog.pg_class c"
            "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')", (schema, schema)).fetchall()
        return {int(r[0]) for r in rows} | {int(c[0]) for c in control if c[1] == schema}
    parts = _parse_name(conn, text)
    found: set[int] = set()
    relation = find_relation(conn, text)  # None: dropped, or renamed since; its recorded names still match below
    if (relation is not None and relation.partition_root_oid is not None
            and conn.execute("SELECT FROM pgaudit_kit.enrolled_table WHERE relid = %s::oid",
                             (relation.partition_root_oid,)).fetchone() is not None):
        raise UsageError(f"--table {text[:200]!r} is a partition of {relation.partition_root}: its rows are recorded "
                         "under that table (with the partition named in each event): use --table "
                         + str(relation.partition_root))
    if relation is not None:
        found.add(relation.oid)
    if len(parts) == 2:
        schemas = [parts[0]]
    else:
        current = conn.execute("SELECT pg_catalog.current_schemas(false)::text[]").fetchone()
        schemas = list(current[0]) if current and current[0] else []
    table = parts[-1]
    rows = conn.execute("SELECT relid::int8 FROM pgaudit_kit.enrolled_table WHERE schema_name = ANY(%s) "
                        "AND table_name = %s", (schemas, table)).fetchall()
    found |= {int(r[0]) for r in rows}
    found |= {int(c[0]) for c in control if c[1] in schemas and c[2] == table}
    return found


def _key_sets(conn: psycopg.Connection[Any], relids: list[int]) -> list[tuple[str, ...]]:
    """Primary key column sets of the table: the enrolment's; for a table no longer enrolled, the key of a
    recorded event (found through event_row_idx)."""
    sets: list[tuple[str, ...]] = []
    # flat and without NULLs: the kit writes a list of names; a superuser's edit may store any text[]
    for (columns,) in conn.execute("SELECT ARRAY(SELECT c FROM unnest(pk_columns) c WHERE c IS NOT NULL) "
                                   "FROM pgaudit_kit.enrolled_table WHERE relid = ANY(%s::oid[]) "
                                   "AND pk_columns IS NOT NULL", (relids,)).fetchall():
        sets.append(tuple(columns))
    if not sets:  # no longer enrolled (dropped, disabled): the key of any recorded event of it
        row = conn.execute("SELECT pk FROM pgaudit_kit.recorded_event WHERE relid = ANY(%s::oid[]) AND pk IS NOT NULL "
                           "LIMIT 1", (relids,)).fetchone()
        if row and isinstance(row[0], dict):
            sets.append(tuple(row[0]))
    unique: list[tuple[str, ...]] = []
    for key in sets:
        if tuple(sorted(key)) not in {tuple(sorted(k)) for k in unique}:
            unique.append(key)
    return unique


# -- SQL -----------------------------------------------------------------------------------------------
SELECT_EVENTS = sql.SQL(
    "SELECT e.id, e.xid::text, e.statement_ts, e.op::text, e.relid::int8, e.schema_name, e.table_name,"
    " e.partition_name, e.pk, e.row_data, e.old_values, e.statement,"
    " t.xid IS NOT NULL, t.actor, t.acting_role, t.session_role, t.context::text, t.context_raw,"
    " t.application_name, pg_catalog.host(t.client_addr), t.client_port, t.backend_pid, t.xact_start"
    " FROM {} e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid")
# Recorded events are in pgaudit_kit.event and, until sealing expands them, in chunks (pgaudit_kit.staged_event).
# Each is read in a branch of its own, joined with its transactions there: joined above the union of the two
# (pgaudit_kit.recorded_event), a filter on the transaction (actor, context) could no longer start from the
# transaction indexes, and `log --context` read every event (6 s on 5M events instead of 7 ms).
EVENT_SOURCES = (sql.Identifier("pgaudit_kit", "event"), sql.Identifier("pgaudit_kit", "staged_event"))


def select_events(where: sql.Composable, params: Sequence[Any], *, descending: bool = False,
                  limit: int = 0, sort: bool = False) -> tuple[sql.Composed, list[Any]]:
    """The SELECT_EVENTS columns of the recorded events matching *where* (" WHERE ..." on e and t, or empty),
    ordered by event id, at most *limit* (0: all); with its parameters. With *sort* (and a limit), a page is
    taken by sorting what *where* selects rather than by reading the log in id order (see review.selective)."""
    order = sql.SQL(" ORDER BY id DESC" if descending else " ORDER BY id")
    # e.id + 0 is the same order, but no index provides it: the matching events are found through the
    # selective index and sorted, instead of reading the log in id order and filtering until the page is full
    branch_order = sql.SQL(" ORDER BY e.id + 0 DESC" if descending else " ORDER BY e.id + 0") if sort else order
    branches = []
    for source in EVENT_SOURCES:
        branch = SELECT_EVENTS.format(source) + where
        if limit:  # each branch ordered and cut itself: an index scan that stops at the page
            branch = sql.SQL("(") + branch + branch_order + sql.SQL(" LIMIT %s)")
        branches.append(branch)
    query = sql.SQL(" UNION ALL ").join(branches) + order
    every = [*params, limit] if limit else list(params)
    all_params = every * len(EVENT_SOURCES)
    if limit:
        query += sql.SQL(" LIMIT %s")
        all_params.append(limit)
    return query, all_params


@dataclass
class Conditions:
    """SQL conditions joined with AND, with their parameters in the order they appear."""

    parts: list[sql.Composable] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str | sql.Composable, *params: Any) -> None:
        self.parts.append(sql.SQL(condition) if isinstance(condition, str) else condition)
        self.params.extend(params)

    def where(self) -> sql.Composed:
        if not self.parts:
            return sql.Composed([])
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(sql.SQL("(") + p + sql.SQL(")") for p in self.parts)


def equals_any(column: str, cast: str, values: Sequence[Any]) -> tuple[str, Any]:
    """``column = value`` for one value (an ordered index scan can serve it), ``= ANY(array)`` for several.
    *column* and *cast* are the kit's own SQL, never user input."""
    if len(values) == 1:
        return f"{column} = %s::{cast}", values[0]
    return f"{column} = ANY(%s::text[]::{cast}[])", [str(v) for v in values]


def pk_equals(documents: Sequence[str]) -> tuple[Any, ...]:
    """``e.pk`` is one of *documents*, in the form event_row_idx serves: its key is the pk's hash
    (jsonb_hash), so the hash is compared first and the pk itself rechecks."""
    hashes = ", ".join("pg_catalog.jsonb_hash(%s::jsonb)" for _ in documents)
    if len(documents) == 1:
        return f"pg_catalog.jsonb_hash(e.pk) = {hashes} AND e.pk = %s::jsonb", documents[0], documents[0]
    return (f"pg_catalog.jsonb_hash(e.pk) = ANY(ARRAY[{hashes}]) AND e.pk = ANY(%s::jsonb[])",
            *list(documents), list(documents))


def transaction_conditions(flt: EventFilter, cond: Conditions | None = None) -> Conditions:
    """The conditions of *flt* on the transaction's who/where (t): --actor and --context."""
    cond = cond if cond is not None else Conditions()
    if flt.actors:
        actors = list(flt.actors)
        # the login role is compared only where it differs from the acting role (the same rows, and the
        # form the partial index transaction_set_role_idx serves)
        cond.add("t.actor = ANY(%s::text[]) OR t.acting_role = ANY(%s::text[])"
                 " OR (t.session_role = ANY(%s::text[]) AND t.session_role <> t.acting_role)", actors, actors, actors)
    for match in flt.context:
        candidates = match.candidates
        cond.add(sql.SQL(" OR ").join(sql.SQL("t.context @> %s::jsonb") for _ in candidates), *candidates)
    return cond


def time_conditions(flt: EventFilter, cond: Conditions | None = None) -> Conditions:
    """The conditions of *flt* on the event's time: --since and --until."""
    cond = cond if cond is not None else Conditions()
    if flt.since:
        expr, param = flt.since.sql()
        cond.add(sql.SQL("e.statement_ts >= ") + expr, param)
    if flt.until:
        expr, param = flt.until.sql()
        cond.add(sql.SQL("e.statement_ts < ") + expr, param)
    return cond


def filter_conditions(flt: EventFilter, tables: Sequence[ResolvedTable],
                      xids: Sequence[str] | None = None) -> Conditions:
    """The WHERE conditions of *flt* (tables already resolved). With *xids* (the transactions matching the
    filter's --actor and --context, found beforehand), those two are given as this list instead."""
    cond = Conditions()
    if tables:
        cond.add(*equals_any("e.relid", "oid", sorted({r for t in tables for r in t.relids})))
    if flt.ops != ALL_OPS:
        cond.add('e.op = ANY(%s::"char"[])', sorted(flt.ops))
    if xids is None:
        transaction_conditions(flt, cond)
    else:
        # on both sides of the join, so that each side is read through its index (the planner does not carry
        # a list condition across an equality; without it, it hashed the whole transaction table)
        cond.add("e.xid = ANY(%s::text[]::xid8[]) AND t.xid = ANY(%s::text[]::xid8[])", list(xids), list(xids))
    time_conditions(flt, cond)
    if flt.pk is not None:
        documents = sorted({d for t in tables for d in flt.pk.documents(t.key_sets, t.name)})
        cond.add(*pk_equals(documents))
    if flt.txids:
        cond.add(*equals_any("e.xid", "xid8", [str(t) for t in flt.txids]))
    if flt.changed:
        cond.add("e.op = 'U' AND e.old_values ?| %s::text[]", list(flt.changed))
    return cond


def event_query(cond: Conditions, *, order: str = "newest", after_id: int | None = None,
                before_id: int | None = None, limit: int = 0, sort: bool = False) -> tuple[sql.Composed, list[Any]]:
    """The composed SELECT of events matching *cond*, ordered by event id, with an optional id window and
    LIMIT (0: none); *sort* as for select_events."""
    if order not in ORDERS:
        raise UsageError(f"--order must be one of {', '.join(ORDERS)}")
    full = Conditions(list(cond.parts), list(cond.params))
    if after_id is not None:
        full.add("e.id > %s", after_id)
    if before_id is not None:
        full.add("e.id < %s", before_id)
    return select_events(full.where(), full.params, descending=order == "newest", limit=limit, sort=sort)
