"""log, history, tx, watch: reading recorded history.

Each records a review event first (who, when, which filter: pgaudit_kit.pg.reviews.reviewed_read, needs the
reader or admin role, exit 3 otherwise), then reads in one REPEATABLE READ READ ONLY snapshot through a
server-side cursor, writing output as it streams.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ..core.errors import UsageError
from ..review.vocabulary import DEFAULT_LIMIT, ORDERS
from .group import LISTING_FORMATS, TIMELINE_FORMATS, F, format_option, main, target_dsn

if TYPE_CHECKING:
    from ..review import events as review_events
    from ..review.query import EventFilter

# Each command imports the review modules (and with them the database driver) when it runs, so that --help,
# --version and usage errors answer at once.


def _filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Filters shared by log and watch. Options combine with AND; repeating one means any of its values."""
    options = [
        click.option("--table", "tables", multiple=True, metavar="TABLE",
                     help="schema.table, table (search_path) or schema.*; repeatable. Finds renamed, dropped and "
                          "restored tables' history too."),
        click.option("--op", "ops", multiple=True, metavar="OP",
                     help="I U D T (insert update delete truncate), S (ddl), K (control), R (review), or all; "
                          "repeatable or comma-separated. Default: everything but reviews."),
        click.option("--actor", "actors", multiple=True, metavar="NAME",
                     help="Claimed application actor (pgaudit_kit.actor) or database role (acting or login); "
                          "repeatable."),
        click.option("--since", metavar="TIME", help="From this time on (ISO 8601, UTC if no offset; or 15m, 2h, 7d)."),
        click.option("--pk", metavar="VALUE|JSON", help='Primary key value, or JSON for several columns: '
                                                        '\'{"order_id": 7, "line": 2}\'. Needs --table.'),
        click.option("--tx", "txids", multiple=True, metavar="TXID", help="Transaction id (as shown); repeatable."),
        click.option("--changed", multiple=True, metavar="COLUMN",
                     help="UPDATEs that changed COLUMN; repeatable (any of them)."),
        click.option("--context", "contexts", multiple=True, metavar="KEY=VALUE",
                     help="Transactions whose context has KEY=VALUE (e.g. request_id=r-42); repeatable (all)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _build_filter(tables: tuple[str, ...], ops: tuple[str, ...], actors: tuple[str, ...], since: str | None,
                  until: str | None, pk: str | None, txids: tuple[str, ...], changed: tuple[str, ...],
                  contexts: tuple[str, ...]) -> EventFilter:
    from ..review.query import EventFilter, parse_context, parse_ops, parse_pk, parse_txid
    from ..review.timeparse import parse_time

    return EventFilter(
        tables=tables, ops=parse_ops(ops), actors=actors,
        since=parse_time(since, "--since") if since is not None else None,
        until=parse_time(until, "--until") if until is not None else None,
        pk=parse_pk(pk) if pk is not None else None, txids=tuple(parse_txid(t) for t in txids), changed=changed,
        context=tuple(parse_context(c) for c in contexts))


def _stdout() -> IO[bytes]:
    """Output goes out as UTF-8 whatever the locale: a pipeline's bytes must not depend on LANG."""
    return sys.stdout.buffer


@contextmanager
def _output(ctx: click.Context) -> Iterator[None]:
    """A reader that went away (| head) ends the command quietly, exit 0, as other Unix tools do."""
    try:
        yield
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # not a real file (tests): nothing to silence
        ctx.exit(0)


@main.command("log")
@_filter_options
@click.option("--until", metavar="TIME", help="Before this time (same forms as --since).")
@click.option("--limit", type=int, default=DEFAULT_LIMIT, show_default=True, help="Events per page; 0 for all.")
@click.option("--order", type=click.Choice(ORDERS), help="newest first (default) or oldest first.")
@click.option("--cursor", metavar="CURSOR", help="Continue from a previous page (printed at its end).")
@format_option(LISTING_FORMATS)
@click.pass_context
def log_command(ctx: click.Context, tables: tuple[str, ...], ops: tuple[str, ...], actors: tuple[str, ...],
                since: str | None, until: str | None, pk: str | None, txids: tuple[str, ...], changed: tuple[str, ...],
                contexts: tuple[str, ...], limit: int, order: str | None, cursor: str | None,
                output_format: str) -> None:
    """Query recorded history: filters combine, output streams, pages continue with --cursor.

    Events are listed by event id (the order they were recorded), newest first unless --order oldest.
    Each shows who (claimed actor, roles), when, what changed, and its seal status (sealed at seq N,
    or pending). By default every operation but reviews is shown (--op R: who looked at what). The
    query is itself recorded as a review event. Needs the reader or admin role.

    \b
    Example:
      pgaudit-kit log --table public.orders --since 1h
      pgaudit-kit log --actor alice@example.com --since 1d --format jsonl
      pgaudit-kit log --table public.orders --pk 7 --changed status
      pgaudit-kit log --context request_id=r-42 --order oldest --limit 0 --format csv
      pgaudit-kit log --table public.orders --since 1h --cursor newest:41234
    """
    from ..pg import db, reviews
    from ..review import events as review_events
    from ..review import render as review_render
    from ..review.query import parse_cursor

    flt = _build_filter(tables, ops, actors, since, until, pk, txids, changed, contexts)
    if limit < 0:
        raise UsageError("--limit must be 0 (all) or more")
    page_cursor = parse_cursor(cursor) if cursor else None
    if page_cursor and order and order != page_cursor.order:
        raise UsageError(f"--cursor {page_cursor} continues a {page_cursor.order}-first listing, not --order {order}")
    page = review_events.Page(order=order or (page_cursor.order if page_cursor else "newest"), limit=limit,
                              cursor=page_cursor)
    writer = review_render.event_writer(output_format, _stdout())
    # the machine formats are written by the server, but for each event's seal status (review.export)
    lines = review_render.SERVER_LINES.get(output_format)
    # a long listing streams from a second connection (review.events.stream_lines); a page does not pay for one
    streamed = bool(lines) and (limit == 0 or limit > review_events.EXPORT_CHUNK)
    with (db.connect(target_dsn(ctx)) as conn, db.translated_errors(), _output(ctx), ExitStack() as stack,
          reviews.reviewed_read(conn, "log", {**flt.as_review(), **page.as_review()},
                                share_snapshot=streamed) as review):
        # a second connection in the review's snapshot for the export to stream from, if one can be had
        readers = (db.snapshot_readers(db.connector(target_dsn(ctx)), review.snapshot, 1, stack)
                   if streamed and review.snapshot else [])
        reader = readers[0] if readers else None
        events = review_events.EventPage(conn, flt, page, lines=lines, reader=reader)
        # closed before the reader is (the stack unwinds last in, first out): a COPY may be open on it
        chunks = stack.enter_context(closing(events.__iter__()))
        writer.begin()
        for chunk in chunks:
            writer.write_chunk(chunk)
        more = writer.end(events.next_cursor)
    if more:
        click.echo(f"pgaudit-kit: {more}", err=True)


@main.command("history")
@click.argument("table")
@click.argument("pk")
@click.option("--as-of", "as_of", metavar="TIME", help="Print the row as it was at TIME instead (ISO 8601 or 2h).")
@click.option("--limit", type=int, default=0, show_default=True, help="Only the newest N writes of the row; 0 for all.")
@format_option(TIMELINE_FORMATS)
@click.pass_context
def history_command(ctx: click.Context, table: str, pk: str, as_of: str | None, limit: int,
                    output_format: str) -> None:
    """The timeline of one row: every recorded write, oldest first, with field-level diffs, who and when.

    PK is the key value, or JSON naming each key column. Between writes, the table's DDL is shown, and a
    difference the previous write does not explain (a column dropped or retyped, or a write capture did
    not see) is listed as a gap. --as-of prints the row as the last write at or before TIME left it.
    Recorded as a review event; needs the reader or admin role.

    \b
    Example:
      pgaudit-kit history public.orders 7
      pgaudit-kit history public.order_lines '{"order_id": 7, "line": 2}' --format json
      pgaudit-kit history public.orders 7 --as-of 2026-11-27T09:30:00Z
    """
    from ..pg import db, reviews
    from ..review import history
    from ..review import render as review_render
    from ..review.query import parse_pk
    from ..review.timeparse import TimeBound, parse_time

    key = parse_pk(pk)
    when: TimeBound | None = parse_time(as_of, "--as-of") if as_of is not None else None
    if limit < 0:
        raise UsageError("--limit must be 0 (all) or more")
    filters: dict[str, Any] = {"table": table, "pk": pk}
    if when:
        filters["as_of"] = when.text
    if limit:
        filters["limit"] = limit
    out = _stdout()
    with (db.connect(target_dsn(ctx)) as conn, db.translated_errors(), _output(ctx),
          reviews.reviewed_read(conn, "history", filters)):
        if when is not None:
            result = history.as_of(conn, table, key, when)
            if output_format == "table":
                out.write(review_render.as_of_text(table, result).encode())
            else:
                out.write((review_render.dumps(result.as_dict()) + "\n").encode())
            out.flush()
            return
        timeline = history.RowHistory(conn, table, key, limit)
        writer = review_render.HistoryWriter(output_format, out, f"{table} {history.describe_key(timeline.documents)}",
                                             table, timeline.documents)
        writer.begin()
        for entries in timeline:
            writer.write(entries)
        writer.end(timeline.count)


@main.command("tx")
@click.argument("txid")
@format_option(LISTING_FORMATS)
@click.pass_context
def tx_command(ctx: click.Context, txid: str, output_format: str) -> None:
    """Everything one transaction did, with its actor, roles, client and context.

    TXID is the transaction id the other commands show (pg_current_xact_id()). To follow one request
    across its transactions: pgaudit-kit log --context request_id=ID. Recorded as a review event; needs
    the reader or admin role.

    \b
    Example:
      pgaudit-kit tx 734211
      pgaudit-kit tx 734211 --format json
    """
    from ..pg import db, reviews
    from ..review import events as review_events
    from ..review import render as review_render
    from ..review.query import parse_txid

    xid = parse_txid(txid)
    out = _stdout()
    with (db.connect(target_dsn(ctx)) as conn, db.translated_errors(), _output(ctx),
          reviews.reviewed_read(conn, "tx", {"tx": str(xid)})):
        record = review_events.transaction(conn, xid)
        extra = {"transaction": record.as_dict() if record else None}
        writer = review_render.event_writer(output_format, out, extra)
        if output_format == "table":
            out.write(review_render.transaction_header(record, xid).encode())
        writer.begin()
        for chunk in review_events.transaction_events(conn, xid):
            writer.write(chunk)
        writer.end()


def follow_options(fn: F) -> F:
    """--heartbeat, --poll-interval and --reconnect-timeout: how a command that follows new events (watch,
    alerts) wakes up and reconnects."""
    for option in reversed((
        click.option("--heartbeat", type=click.FloatRange(0.05, 3600), default=5.0, show_default=True,
                     help="Seconds between checks without a notification (a safety net; notifications wake it at "
                          "once)."),
        click.option("--poll-interval", type=click.FloatRange(0.05, 3600), default=1.0, show_default=True,
                     help="Seconds between reads when notifications are unavailable (max_prepared_transactions > 0)."),
        click.option("--reconnect-timeout", type=click.FloatRange(0), default=0.0, show_default=True,
                     help="Give up (exit 3) after this many seconds without a connection; 0: keep trying."))):
        fn = option(fn)
    return fn


@main.command("watch")
@_filter_options
@click.option("--limit", type=int, default=0, show_default=True, help="Stop after N events; 0: follow forever.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the position in this file: a restarted watch continues where the last one stopped.")
@follow_options
@click.pass_context
def watch_command(ctx: click.Context, tables: tuple[str, ...], ops: tuple[str, ...], actors: tuple[str, ...],
                  since: str | None, pk: str | None, txids: tuple[str, ...], changed: tuple[str, ...],
                  contexts: tuple[str, ...], limit: int, state_path: Path | None, heartbeat: float,
                  poll_interval: float, reconnect_timeout: float) -> None:
    """Follow new events live as JSON lines (one event per line, as log --format jsonl), for alerting.

    Woken by LISTEN/NOTIFY, not by polling. After a server restart or a dropped connection it reconnects
    and resumes exactly after the last event it printed: nothing lost, nothing repeated (events are
    printed as their transactions commit). --since first prints what matched since then. The watch is
    recorded as a review event (again on each reconnect); needs the reader or admin role.

    \b
    Example:
      pgaudit-kit watch --table public.salaries | alert-on-anything
      pgaudit-kit watch --op D,T --since 10m
      pgaudit-kit watch --actor postgres --state /var/lib/pgaudit-kit/watch.state
    """
    from ..pg import db
    from ..review import render as review_render
    from ..review import watch

    flt = _build_filter(tables, ops, actors, since, None, pk, txids, changed, contexts)
    if limit < 0:
        raise UsageError("--limit must be 0 (forever) or more")
    out = _stdout()

    def emit(event: review_events.Event) -> None:
        out.write((review_render.dumps(event.as_dict()) + "\n").encode())
        out.flush()

    options = watch.WatchOptions(heartbeat=heartbeat, poll_interval=poll_interval,
                                 reconnect_timeout=reconnect_timeout, limit=limit, state_path=state_path)
    dsn = target_dsn(ctx)
    watcher = watch.Watcher(lambda: db.connect(dsn, autocommit=True, application_name="pgaudit-kit watch"), flt,
                            options, emit, watch.stderr_note)
    with db.translated_errors(), _output(ctx):
        try:
            watcher.run()
        except KeyboardInterrupt:
            ctx.exit(0)
