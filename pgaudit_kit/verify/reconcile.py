"""`pgaudit-kit reconcile`: compare the live rows of enrolled tables with their recorded history.

A live row that the audit log cannot explain is the trace of a write that bypassed capture (a
superuser who switched the triggers off, a data-only restore, ...). The comparison itself runs in the
server, in ``pgaudit_kit.reconcile_table(oid)`` (SECURITY DEFINER: a reviewer needs no privilege on the
tables); this module picks the tables, records the review, and streams the problems back through a
server-side cursor inside one read-only REPEATABLE READ snapshot, so memory stays constant whatever the
size of the tables.

A bypassing write that a recorded write of the same row later overwrote leaves the live row explained by
the newest image; the log itself still shows it. Each recorded UPDATE, DELETE or TRUNCATE of a key holds
the row as it found it (its before image), which must be the row the previous recorded write of that key
left (its after image): :func:`_overwritten_query` pairs them in the server, in key and event order, and
only pairs that differ come back (``overwritten``); the difference is history's own write gap
(:func:`pgaudit_kit.core.images.write_gap`). A recorded schema change or kit control event of the table
between the two (op S or K: columns added, dropped, renamed or retyped, options changed) ends the
comparison: the images before it were recorded in another shape. Tables without a primary key have no
key to pair writes by and are not replayed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from ..core.errors import InsufficientPrivilege, UsageError
from ..core.images import ABSENT, FieldChange, write_gap
from ..pg import db, reviews
from ..pg.relations import require_table

PROBLEM_KINDS = ("changed", "unrecorded", "missing", "overwritten")
FETCH_ROWS = 2000


@dataclass(frozen=True)
class Problem:
    """One row (or, for a table without a primary key, one row image) the log cannot explain.

    kind: ``changed`` (live row differs from its newest recorded image), ``unrecorded`` (live row the log
    has no record of, or recorded as removed), ``missing`` (recorded as present, no live row),
    ``overwritten`` (a recorded write found the row other than the previous recorded write of its key left
    it: a write in between bypassed capture, and the later recorded write overwrote it).
    pk is None for tables without a primary key; rows is then how many rows of that image are surplus
    (unrecorded) or lacking (missing). event_id is the newest recorded event of the key, when there is one;
    for ``overwritten``, the recorded UPDATE, DELETE or TRUNCATE whose before image (``before``) differs from
    the after image (``recorded``; None when it removed the row) of the key's previous recorded write
    (``previous_event_id``), and live is None.
    """

    table: str
    kind: str
    pk: dict[str, Any] | None
    live: dict[str, Any] | None
    recorded: dict[str, Any] | None
    rows: int
    event_id: int | None
    previous_event_id: int | None = None
    before: dict[str, Any] | None = None

    @property
    def gap(self) -> list[FieldChange]:
        """For ``overwritten``: each column whose value the unrecorded write changed (old: as the previous
        recorded write left it, new: as the later one found it; ABSENT on a side that lacks the column)."""
        return write_gap(self.recorded, self.before) if self.kind == "overwritten" else []

    @property
    def differing_columns(self) -> list[str]:
        """For ``changed``: the columns both images have whose values differ; for ``overwritten``: the
        columns of :attr:`gap`."""
        if self.kind == "overwritten":
            return [change.column for change in self.gap]
        if self.live is None or self.recorded is None:
            return []
        return sorted(k for k in self.live.keys() & self.recorded.keys() if self.live[k] != self.recorded[k])

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"table": self.table, "problem": self.kind, "pk": self.pk, "rows": self.rows,
                                "event_id": self.event_id, "live": self.live, "recorded": self.recorded}
        if self.kind == "changed":
            data["columns"] = self.differing_columns
        if self.kind == "overwritten":
            data["previous_event_id"] = self.previous_event_id
            data["before"] = self.before
            data["columns"] = self.differing_columns
            data["differences"] = [_difference(change) for change in self.gap]
        return data


def _difference(change: FieldChange) -> dict[str, Any]:
    """{"column", "expected", "found"}: a side the column was absent from is left out (null is SQL NULL)."""
    found: dict[str, Any] = {"column": change.column}
    if change.old is not ABSENT:
        found["expected"] = change.old
    if change.new is not ABSENT:
        found["found"] = change.new
    return found


@dataclass(frozen=True)
class TableChecked:
    """Yielded after a table's problems: how many live rows were compared and how many problems it has."""

    table: str
    rows_compared: int
    problems: int

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows_compared": self.rows_compared, "problems": self.problems}


@dataclass
class Target:
    relid: int
    name: str


@dataclass
class Totals:
    tables: list[TableChecked] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(t.problems for t in self.tables)

    @property
    def rows_compared(self) -> int:
        return sum(t.rows_compared for t in self.tables)


def resolve_targets(conn: psycopg.Connection[Any], names: Sequence[str]) -> list[Target]:
    """The enrolled tables named (resolved as SQL resolves them), or every enrolled table when none is named.

    Raises UsageError naming a table that does not exist or is not enrolled.
    """
    try:
        return _resolve_targets(conn, names)
    except pgerrors.InsufficientPrivilege as exc:
        raise InsufficientPrivilege(
            f"{conn.info.user} may not review audit history: grant it a kit role "
            "(pgaudit-kit grant reader ROLE, or admin)") from exc
    except psycopg.Error as exc:
        raise db.translate(exc) from exc


def _resolve_targets(conn: psycopg.Connection[Any], names: Sequence[str]) -> list[Target]:
    with conn.transaction():
        db.require_installed(conn)
        if not names:
            rows = conn.execute(
                "SELECT e.relid::int8, format('%I.%I', n.nspname, c.relname)"
                "  FROM pgaudit_kit.enrolled_table e JOIN pg_class c ON c.oid = e.relid"
                "  JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 2").fetchall()
            return [Target(int(relid), str(name)) for relid, name in rows]
    targets: list[Target] = []
    for name in names:
        table = require_table(conn, name)
        with conn.transaction():
            enrolled = conn.execute("SELECT FROM pgaudit_kit.enrolled_table WHERE relid = %s::oid",
                                    (table.oid,)).fetchone() is not None
        if not enrolled:
            hint = (f"; it is a partition: reconcile {table.partition_root}" if table.partition_root
                    else " (pgaudit-kit enable it first)")
            raise UsageError(f"{table.name} is not enrolled{hint}")
        if all(t.relid != table.oid for t in targets):
            targets.append(Target(table.oid, table.name))
    return targets


def reconcile(conn: psycopg.Connection[Any], targets: Sequence[Target]) -> Iterator[Problem | TableChecked]:
    """Record the review and open the read-only snapshot now, then return an iterator over each table's
    problems followed by its TableChecked, table by table (problems in key or image order).

    *conn* must be outside any transaction; it stays inside the snapshot until the iterator is exhausted or
    closed. Raises InsufficientPrivilege (and the like) before anything is read.
    """
    # entered now, so that a refused review raises here, before the caller writes anything; the stream
    # ends the snapshot when it is exhausted or closed
    snapshot = ExitStack()
    # one snapshot for every table: one moment of the database
    snapshot.enter_context(reviews.reviewed_read(conn, "reconcile", {"tables": [t.name for t in targets]}))
    return _stream(conn, targets, snapshot)


def _stream(conn: psycopg.Connection[Any], targets: Sequence[Target],
            snapshot: ExitStack) -> Iterator[Problem | TableChecked]:
    with snapshot, db.translated_errors():
        for target in targets:
            count = rows_compared = 0
            with conn.cursor(name="pgaudit_kit_reconcile") as cur:
                cur.itersize = FETCH_ROWS
                cur.execute("SELECT problem, pk, live, recorded, row_count, event_id"
                            "  FROM pgaudit_kit.reconcile_table(%s::oid)", (target.relid,))
                for kind, pk, live, recorded, rows, event_id in cur:
                    if kind is None:  # the last row: how many live rows were compared
                        rows_compared = int(rows)
                        continue
                    count += 1
                    yield Problem(target.name, str(kind), pk, live, recorded, int(rows),
                                  None if event_id is None else int(event_id))
            for problem in _overwritten(conn, target):
                count += 1
                yield problem
            yield TableChecked(target.name, rows_compared, count)


# The recorded writes of a table's keys as a chain of images, one row per key a write touched (an UPDATE
# that changes the key touches two: it removes the row from the old key, with the old image as its before
# image, and writes the new key): key, event id, before image (UPDATE, DELETE, TRUNCATE: the row the write
# found), after image (INSERT, UPDATE: the row it left; NULL: it removed the row). lag() pairs each touch
# with the previous one of its key; only pairs whose images differ leave the server.
#   * Pairs with a recorded DDL or kit control event of the table between them are not compared.
#   * The events of one statement that changes keys come in any order (a swap: 1 -> 2 and 2 -> 1, a shift:
#     3 -> 4 and 4 -> 5), so where one statement (xid and statement start: a DO block's statements share
#     it) touched a key more than once and moved a key doing so, the order of those touches, and so the
#     image the key held after them, is unknown: no pair with a side among them is compared.
#   * The first touch of a key since the newest enrolment has nothing before it (rows that predate it).
# Parameters: %(relids)s the table and its partitions, %(start)s the newest enrolment event.
_OVERWRITTEN = """
SELECT w.key, w.prev_id, w.id, w.prev_after, w.before
  FROM (SELECT g.key, g.id, g.checks, g.before, g.unordered,
               pg_catalog.lag(g.id) OVER k AS prev_id, pg_catalog.lag(g.after) OVER k AS prev_after,
               pg_catalog.lag(g.unordered) OVER k AS prev_unordered
          FROM (SELECT t.*, pg_catalog.bool_or(t.moved) OVER s AND pg_catalog.count(*) OVER s > 1 AS unordered
                  FROM (SELECT CASE WHEN p.part = 'from'
                                    THEN e.pk || (SELECT pg_catalog.jsonb_object_agg(o.key, o.value)
                                                    FROM pg_catalog.jsonb_each(e.old_values) o WHERE e.pk ? o.key)
                                    ELSE e.pk END AS key,
                               e.id, CASE WHEN p.part = 'to' THEN 1 ELSE 0 END AS sub,
                               p.part <> 'to' AND e.op IN ('U', 'D', 'T') AS checks,
                               CASE WHEN p.part = 'to' THEN NULL WHEN e.op = 'U' THEN e.row_data || e.old_values
                                    WHEN e.op IN ('D', 'T') THEN e.row_data END AS before,
                               CASE WHEN p.part <> 'from' AND e.op IN ('I', 'U') THEN e.row_data END AS after,
                               p.part <> 'all' AS moved, e.xid, e.statement_ts AS ts
                          FROM pgaudit_kit.recorded_event e
                         CROSS JOIN LATERAL pg_catalog.unnest(
                                 CASE WHEN e.op = 'U'
                                           AND e.old_values ?| ARRAY(SELECT pg_catalog.jsonb_object_keys(e.pk))
                                      THEN '{from,to}'::text[] ELSE '{all}'::text[] END) AS p(part)
                         WHERE e.relid = ANY (%(relids)s::oid[]) AND e.id > %(start)s AND e.pk IS NOT NULL
                           AND e.op IN ('I', 'U', 'D', 'T')) t
                WINDOW s AS (PARTITION BY t.key, t.xid, t.ts)) g
        WINDOW k AS (PARTITION BY g.key ORDER BY g.id, g.sub)) w
 WHERE w.checks AND w.prev_id IS NOT NULL AND NOT (w.unordered OR w.prev_unordered)
   AND w.prev_after IS DISTINCT FROM w.before
   AND NOT EXISTS (SELECT FROM pgaudit_kit.event r
                    WHERE r.op IN ('S', 'K') AND r.relid = ANY (%(relids)s::oid[])
                      AND r.id > w.prev_id AND r.id < w.id)
 ORDER BY w.key, w.id"""

# The table and its current partitions (events of one recorded while it was enrolled on its own count),
# and the newest enrolment event (or a retirement's restatement of it): as reconcile_table, only history since
# it counts.
_SCOPE = """
SELECT ARRAY(SELECT %(relid)s::oid UNION SELECT p.relid::oid FROM pg_catalog.pg_partition_tree(%(relid)s::oid) p),
       COALESCE((SELECT pg_catalog.max(k.id) FROM pgaudit_kit.event k
                  WHERE k.op = 'K' AND k.relid = %(relid)s::oid
                    AND k.row_data ->> 'action' IN ('enable', 'rebind', 'enrolled')),
                0)"""


def _overwritten(conn: psycopg.Connection[Any], target: Target) -> Iterator[Problem]:
    """The table's ``overwritten`` problems, in key and event order, streamed from a server-side cursor."""
    scope = conn.execute(_SCOPE, {"relid": target.relid}).fetchone()
    assert scope is not None
    relids, start = scope
    with conn.cursor(name="pgaudit_kit_reconcile_replay") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(_OVERWRITTEN, {"relids": relids, "start": int(start)})
        for key, previous_id, event_id, previous_after, before in cur:
            problem = Problem(target.name, "overwritten", key, None, previous_after, 1, int(event_id),
                              int(previous_id), before)
            if problem.gap:  # jsonb and history agree on what differs; this only guards the wording
                yield problem
