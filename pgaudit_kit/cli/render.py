"""Rendering of command results: aligned text tables and JSON (the --format option is the CLI's)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import click

_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*\Z")


def qualified_name(schema: str, name: str) -> str:
    """schema.name as it can be pasted back into a command: each part double-quoted unless it reads back
    unchanged without quotes (keywords are left as they are: the commands read names as regclass does)."""
    def part(text: str) -> str:
        return text if _PLAIN_IDENTIFIER.match(text) else '"' + text.replace('"', '""') + '"'
    return f"{part(schema)}.{part(name)}"


def emit_json(value: Any) -> None:
    """*value* as indented JSON on stdout (dates and other non-JSON values as their text)."""
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
