"""retention, retire, partitions: how long audit history must stay in the database, removing archived history older
than that, and the partitions that let it leave whole."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.errors import EXIT_FINDINGS
from . import render
from .group import REPORT_FORMATS, connect, connector, format_option, main
from .integrity import echo_findings


@main.command()
@click.option("--set", "period", metavar="PERIOD",
              help="Raise the minimum retention period to PERIOD ('400 days', '7 years'); it can never be lowered.")
@format_option(REPORT_FORMATS)
@click.pass_context
def retention(ctx: click.Context, period: str | None, output_format: str) -> None:
    """Show, or raise, the minimum retention period of audit history (raising needs the admin role; recorded).

    Nothing sealed more recently than this can be retired, by anyone: the database refuses it. Until a period
    is set, nothing can be retired at all.

    \b
    Example:
      pgaudit-kit retention --set '7 years'
    """
    from ..control import retention as policy

    with connect(ctx) as conn:
        changed = policy.raise_to(conn, period) if period is not None else None
        current = policy.read(conn)
    if output_format == "json":
        render.emit_json({**current.as_dict(), "changed": changed})
        return
    if changed is not None:
        click.echo(f"minimum retention period is now {current.min_age}" if changed
                   else f"minimum retention period was already {current.min_age}")
    elif current.min_age is None:
        click.echo("no minimum retention period is set: nothing can be retired (set one: retention --set PERIOD)")
    else:
        click.echo(f"minimum retention period: {current.min_age} (set by {current.set_by} at {current.set_at})")
    if current.retired_through:
        click.echo(f"history through tree size {current.retired_through} is retired")


@main.command()
@click.option("--archive", "archive_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The archive (written by `archive`) whose history leaves the database.")
@click.option("--public-key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Verifier key (.pub) of the checkpoint signer: the archive and the database are verified first.")
@click.option("--anchor-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Anchor directory the database is verified against first.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Trusted state file for that verification (incremental; updated when clean).")
@format_option(REPORT_FORMATS)
@click.pass_context
def retire(ctx: click.Context, archive_dir: Path, public_key: Path, anchor_dir: Path | None, state_path: Path | None,
           output_format: str) -> None:
    """Remove archived history from the database (needs the admin role; recorded in the log first).

    The archive must verify, be of this log and cover everything not yet retired up to its end; the database
    must verify clean; and the database itself refuses unless a signed checkpoint of that tree is stored and all
    of it is older than the minimum retention period (see `retention`). Afterwards `verify` checks the rest from
    where the retired history ends, and tells this retirement apart from a deletion. Exit 1 (nothing removed)
    when the archive or the database has findings.

    \b
    Example:
      pgaudit-kit retire --archive /mnt/archive/shop-2026h1 --public-key shop.pub --state shop.state
    """
    from ..verify.retire import retire as run_retire

    report = run_retire(connector(ctx), archive_dir, public_key, anchor_dir=anchor_dir, state_path=state_path)
    if output_format == "json":
        render.emit_json(report.as_dict())
    elif report.findings:
        click.echo("nothing retired: the archive or the database does not verify")
        echo_findings(report.findings)
    else:
        click.echo(f"retired history through tree size {report.tree_size} ({report.events_removed} events) to "
                   f"archive {report.archive}")
    if report.findings:
        ctx.exit(EXIT_FINDINGS)


@main.command()
@click.option("--ahead", type=click.IntRange(1, 100), default=2, show_default=True,
              help="Empty partitions to keep beyond the one the next event goes to.")
@click.option("--width", "width_events", type=click.IntRange(1, 2**40), metavar="EVENTS",
              help="Width of the partitions this run creates, in single-row events of 1,024 ids (default: what "
                   "about 4,194,304 events take in this log, from the newest partition's; a chunk of up to 1,024 "
                   "events of a many-row statement takes 1,024 ids in all).")
@format_option(REPORT_FORMATS)
@click.pass_context
def partitions(ctx: click.Context, ahead: int, width_events: int | None, output_format: str) -> None:
    """List the event table's partitions, creating the next ones ahead (creating needs the admin role).

    Events are stored in partitions by ranges of id, so that `retire` drops whole partitions of old history
    instead of deleting rows. `seal` and `seal --follow` keep two ahead by themselves; run this to change the
    width or keep more. Creating one waits at most 100 ms for a lock on the event table (audited writers wait
    that long at most, once every few million events). Events beyond the partitions go to event_overflow (never an
    error); `doctor` reports them.

    \b
    Example:
      pgaudit-kit partitions --ahead 4 --width 1000000
    """
    from ..log import partitions as event_partitions

    with connect(ctx) as conn:
        creating = event_partitions.may_create(conn)
        if not creating and width_events is not None:
            raise click.UsageError("--width needs the admin role (this role may only list the partitions)")
        created = event_partitions.add_ahead(conn, width_events, ahead) if creating else 0
        listed = event_partitions.listed(conn)
    if output_format == "json":
        render.emit_json({"created": created, "partitions": [p.as_dict() for p in listed]})
        return
    for p in listed:
        span = (f"ids {'MINVALUE' if p.lower_id is None else f'{p.lower_id:,}'} to "
                f"{'MAXVALUE' if p.upper_id is None else f'{p.upper_id:,}'}")
        click.echo(f"{p.name:<16} {span:<48} ~{p.events:,} events, {p.bytes / 1e6:,.1f} MB")
    click.echo(f"created {created} partitions" if created else "no partition needed creating" if creating
               else "(listed only: creating partitions needs the admin role)")
