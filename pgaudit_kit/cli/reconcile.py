"""reconcile: live rows of enrolled tables against the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from ..core.errors import EXIT_FINDINGS
from ..core.images import ABSENT
from ..core.progress import Progress
from .group import REPORT_FORMATS, format_option, main, target_dsn

if TYPE_CHECKING:
    from ..verify import reconcile as reconciling


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _describe(problem: reconciling.Problem) -> str:
    """One line: table, kind, key (or row image), and what the log says instead."""
    if problem.pk is None:  # a table without a primary key: counts per row image
        image = problem.live if problem.kind == "unrecorded" else problem.recorded
        side = "more" if problem.kind == "unrecorded" else "fewer"
        return (f"{problem.table}: {problem.kind} {_compact(image)}: {problem.rows} {side} live "
                f"{'row' if problem.rows == 1 else 'rows'} with this image than the log explains")
    key = _compact(problem.pk)
    if problem.kind == "overwritten":
        return _describe_overwritten(problem, key)
    if problem.kind == "changed":
        columns = problem.differing_columns
        what = f"column {columns[0]} differs" if len(columns) == 1 else f"columns {', '.join(columns)} differ"
        return f"{problem.table}: changed {key}: {what} from the newest recorded image (event {problem.event_id})"
    if problem.kind == "missing":
        return f"{problem.table}: missing {key}: event {problem.event_id} recorded it, there is no live row"
    if problem.event_id is not None:
        return f"{problem.table}: unrecorded {key}: live row, but event {problem.event_id} recorded its removal"
    return f"{problem.table}: unrecorded {key}: live row with no recorded write since the table was enrolled"


def _describe_overwritten(problem: reconciling.Problem, key: str) -> str:
    """Which columns changed between two recorded writes of the key, from what to what, and the two events."""
    pair = f"event {problem.previous_event_id} and event {problem.event_id}"
    if problem.recorded is None:
        return (f"{problem.table}: overwritten {key}: event {problem.previous_event_id} recorded its removal, but "
                f"event {problem.event_id} found the row: written back with no recorded write in between")
    changes = ", ".join(f"{change.column} {_side(change.old)} -> {_side(change.new)}" for change in problem.gap)
    noun = "column" if len(problem.gap) == 1 else "columns"
    return f"{problem.table}: overwritten {key}: {noun} {changes} between {pair}, with no recorded write in between"


def _side(value: Any) -> str:
    return "(absent)" if value is ABSENT else _compact(value)


@main.command()
@click.argument("tables", nargs=-1)
@format_option(REPORT_FORMATS)
@click.pass_context
def reconcile(ctx: click.Context, tables: tuple[str, ...], output_format: str) -> None:
    """Compare every live row of enrolled tables with the audit log; report rows it cannot explain.

    Each row is compared with the newest recorded image of its primary key (tables without one: row
    images are counted). A row that was changed, added or removed without being recorded is the trace of
    a write that bypassed capture. The log is replayed too: a recorded write that found its row other than
    the previous recorded write of the key left it (no recorded DDL in between) reveals a bypassing write
    that was overwritten since (overwritten). Without TABLE, every enrolled table is checked. Streams: memory stays
    constant however large the tables. Needs the reader (or admin) role; recorded as a review.
    Exit 0 when every row is explained, 1 when some are not (each is named).

    \b
    Example:
      pgaudit-kit reconcile
      pgaudit-kit reconcile public.accounts '"Order Lines"' --format json
    """
    from ..pg import db
    from ..verify import reconcile as reconciling

    with db.connect(target_dsn(ctx)) as conn:
        # every error that ends the command early (unknown table, no privilege) comes before any output
        targets = reconciling.resolve_targets(conn, tables)
        items = reconciling.reconcile(conn, targets)
        with Progress(unless_stdout_is_a_terminal=output_format == "json") as progress:
            problems = _report(_shown(items, targets, progress), output_format, progress)
    if problems:
        ctx.exit(EXIT_FINDINGS)


def _shown(items: Iterator[reconciling.Problem | reconciling.TableChecked], targets: list[reconciling.Target],
           progress: Progress) -> Iterator[reconciling.Problem | reconciling.TableChecked]:
    """The items, with the table being compared on the progress line (tables come in the order of *targets*)."""
    from ..verify import reconcile as reconciling

    done = rows = 0

    def show() -> None:
        if done < len(targets):
            progress.show(f"reconciling {targets[done].name} (table {done + 1} of {len(targets)}; "
                          f"{rows:,} live rows compared so far)", force=True)

    show()
    for item in items:
        if isinstance(item, reconciling.TableChecked):
            done += 1
            rows += item.rows_compared
        yield item
        show()


def _report(items: Iterator[reconciling.Problem | reconciling.TableChecked], output_format: str,
            progress: Progress) -> int:
    """Write the problems as they come, then the summary; returns the number of problems. Each line written
    first clears the progress line (which the next item redraws)."""
    from ..verify import reconcile as reconciling

    problems = 0
    if output_format == "json":
        # streamed: problems as they come, the per-table counts after them
        tables_done: list[dict[str, Any]] = []
        click.echo('{\n  "problems": [', nl=False)
        for item in items:
            if isinstance(item, reconciling.TableChecked):
                tables_done.append(item.as_dict())
                continue
            click.echo(("," if problems else "") + "\n    " + json.dumps(item.as_dict(), default=str), nl=False)
            problems += 1
        click.echo(("\n  " if problems else "") + "],")
        rows = sum(int(t["rows_compared"]) for t in tables_done)
        tail = {"tables": tables_done, "rows_compared": rows, "problem_count": problems, "clean": problems == 0}
        click.echo(json.dumps(tail, indent=2)[2:])
    else:
        checked = rows = 0
        for item in items:
            progress.clear()
            if isinstance(item, reconciling.TableChecked):
                checked += 1
                rows += item.rows_compared
                click.echo(f"{item.table}: {_count(item.rows_compared, 'live row')} compared, "
                           + (_count(item.problems, "problem") if item.problems else "all explained by the log"))
                continue
            click.echo(_describe(item))
            problems += 1
        progress.clear()
        click.echo(f"{_count(checked, 'table')}, {_count(rows, 'live row')}: "
                   + (f"{_count(problems, 'problem')} (writes that bypassed capture)" if problems else "clean"))
    return problems
