"""How findings phrase counts, lists of names and ages, so that every item reads alike."""

from __future__ import annotations

from collections.abc import Iterable


def format_age(seconds: float) -> str:
    """A short human age: ``42s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def join_names(values: Iterable[str]) -> str:
    """``a, b, c``; ``(none)`` when there are none, so that a finding never ends in an empty list."""
    return ", ".join(values) or "(none)"


def count_noun(n: int, noun: str) -> str:
    """``1 event``, ``3 events``: *noun* with a plain English plural."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
