"""doctor: the hardening report."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..core.errors import EXIT_FINDINGS, UsageError
from ..doctor.items import ITEM_IDS
from ..doctor.thresholds import parse_duration
from . import render
from .group import REPORT_FORMATS, connect, format_option, main

if TYPE_CHECKING:
    from .. import doctor as doctor_lib

# Text output: severity and item columns, then the finding and its advice wrapped into this many columns.
TEXT_WIDTH = 100
_ORDER = {"critical": 0, "warning": 1, "info": 2, "ok": 3}


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Option callback: a duration (90s, 15m, 1h, 2d, 1h30m or plain seconds) in seconds; bad input exits 2."""
    try:
        return parse_duration(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def render_text(report: doctor_lib.Report) -> str:
    """Problems first (critical, warning, info, ok), each finding followed by its advice, then a summary."""
    items = sorted(report.items, key=lambda i: _ORDER[i.severity])
    id_width = max(len("item"), *(len(i.id) for i in items))
    indent = 12 + id_width
    text_width = max(TEXT_WIDTH - indent, 40)
    lines = [f"pgaudit-kit doctor: {report.database} (PostgreSQL {report.server_version})", "",
             f"{'severity':<8}  {'item':<{id_width}}  finding / advice",
             f"{'-' * 8}  {'-' * id_width}  {'-' * text_width}"]
    for item in items:
        severity = item.severity + ("*" if item.accepted else "")
        finding = textwrap.wrap(item.finding, text_width) or [""]
        lines.append(f"{severity:<8}  {item.id:<{id_width}}  {finding[0]}")
        lines += [" " * indent + line for line in finding[1:]]
        if item.severity != "ok" and item.advice:
            lines += [" " * indent + line
                      for line in textwrap.wrap("advice: " + item.advice, text_width, subsequent_indent="  ")]
    summary = report.summary
    lines += ["", ", ".join(f"{summary[s]} {s}" for s in ("critical", "warning", "info", "ok"))
              + (" (* accepted with --accept)" if any(i.accepted for i in items) else "")
              + ("; exit 1: fix the warnings and critical items" if report.exit_code else "; nothing to fix")]
    return "\n".join(lines)


@main.command()
@click.option("--anchor-dir", envvar="PGAUDIT_KIT_ANCHOR_DIR", type=click.Path(path_type=Path),
              help="Anchor directory checkpoint writes to: checked for permissions and this database's "
                   "checkpoints (env PGAUDIT_KIT_ANCHOR_DIR).")
@click.option("--key", "key_path", envvar="PGAUDIT_KIT_KEY", type=click.Path(path_type=Path),
              help="Private signing key: checked for mode 0600 and that it signed the newest checkpoint "
                   "(env PGAUDIT_KIT_KEY).")
@click.option("--max-backlog-age", metavar="DURATION", callback=_duration, default="5m", show_default=True,
              help="Warn when the oldest unsealed event is older.")
@click.option("--max-checkpoint-age", metavar="DURATION", callback=_duration, default="1h", show_default=True,
              help="Warn when the newest checkpoint is older.")
@click.option("--max-verify-age", metavar="DURATION", callback=_duration, default="24h", show_default=True,
              help="Warn when the last clean verify is older.")
@click.option("--accept", "accepted", multiple=True, type=click.Choice(ITEM_IDS), metavar="ITEM",
              help="Report a warning of ITEM as info (an accepted risk); repeatable. Never downgrades critical.")
@format_option(REPORT_FORMATS)
@click.pass_context
def doctor(ctx: click.Context, anchor_dir: Path | None, key_path: Path | None, max_backlog_age: float,
           max_checkpoint_age: float, max_verify_age: float, accepted: tuple[str, ...], output_format: str) -> None:
    """Hardening report: each item with a severity (ok, info, warning, critical) and advice.

    Checks the kit's revision and invariants, its event triggers and who could switch them off, superusers,
    CREATEROLE, kit role members, who may write the kit's tables or read the redaction key, table owners,
    BYPASSRLS, log settings, lockdown, the unsealed backlog, the newest checkpoint, the last clean verify,
    and (given) the anchor directory and the signing key. Exit 0 when nothing is a warning or critical,
    1 otherwise, 2 usage, 3 environment. Recorded as a review event; needs the reader or admin role.

    \b
    Example:
      pgaudit-kit doctor --anchor-dir /mnt/worm/pgaudit --key /etc/pgaudit-kit/shop.key
      pgaudit-kit doctor --max-checkpoint-age 15m --accept log_connections --format json
    """
    from .. import doctor as doctor_lib

    thresholds = doctor_lib.Thresholds(max_backlog_age, max_checkpoint_age, max_verify_age)
    with connect(ctx) as conn:
        report = doctor_lib.run(conn, anchor_dir=anchor_dir, key_path=key_path, thresholds=thresholds,
                                accept=accepted)
    if output_format == "json":
        render.emit_json(report.as_dict())
    else:
        click.echo(render_text(report))
    if report.exit_code:
        ctx.exit(EXIT_FINDINGS)
