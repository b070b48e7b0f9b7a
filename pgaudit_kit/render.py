"""Rendering of command results: human text or JSON (and CSV for listings, as they land)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click

FORMATS = ("text", "json")


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table; cells are stringified, None shows as empty."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def format_option(func: Any) -> Any:
    """The --format option every reporting command shares."""
    return click.option(
        "--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True,
        help="Output format.",
    )(func)
