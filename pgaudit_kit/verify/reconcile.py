"""`pgaudit-kit reconcile`: compare the live rows of enrolled tables with their recorded history.

A live row that the audit log cannot explain is the trace of a write that bypassed capture (a
superuser who switched the triggers off, a data-only restore, ...). The comparison itself runs in the
server, in ``pgaudit_kit.reconcile_table(oid)`` (SECURITY DEFINER: a reviewer needs no privilege on the
tables); this module picks the tables, records the review, and streams the problems back through a
server-side cursor inside one read-only REPEATABLE READ snapshot, so memory stays constant whatever the
size of the tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from ..core.errors import InsufficientPrivilege, UsageError
from ..pg import db, reviews
from ..pg.relations import require_table

PROBLEM_KINDS = ("changed", "unrecorded", "missing")
FETCH_ROWS = 2000


@dataclass(frozen=True)
class Problem:
    """One row (or, for a table without a primary key, one row image) the log cannot explain.

    kind: ``changed`` (live row differs from its newest recorded image), ``unrecorded`` (live row the log
    has no record of, or recorded as removed), ``missing`` (recorded as present, no live row).
    pk is None for tables without a primary key; rows is then how many rows of that image are surplus
    (unrecorded) or lacking (missing). event_id is the newest recorded event of the key, when there is one.
    """

    table: str
    kind: str
    pk: dict[str, Any] | None
    live: dict[str, Any] | None
    recorded: dict[str, Any] | None
    rows: int
    event_id: int | None

    @property
    def differing_columns(self) -> list[str]:
        """For ``changed``: the columns both images have whose values differ."""
        if self.live is None or self.recorded is None:
            return []
        return sorted(k for k in self.live.keys() & self.recorded.keys() if self.live[k] != self.recorded[k])

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"table": self.table, "problem": self.kind, "pk": self.pk, "rows": self.rows,
                                "event_id": self.event_id, "live": self.live, "recorded": self.recorded}
        if self.kind == "changed":
            data["columns"] = self.differing_columns
        return data


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
            count = 0
            with conn.cursor(name="pgaudit_kit_reconcile") as cur:
                cur.itersize = FETCH_ROWS
                cur.execute("SELECT problem, pk, live, recorded, row_count, event_id"
                            "  FROM pgaudit_kit.reconcile_table(%s::oid)", (target.relid,))
                for kind, pk, live, recorded, rows, event_id in cur:
                    if kind is None:  # the last row: how many live rows were compared
                        yield TableChecked(target.name, int(rows), count)
                        continue
                    count += 1
                    yield Problem(target.name, str(kind), pk, live, recorded, int(rows),
                                  None if event_id is None else int(event_id))
