"""Times given on the command line: ISO 8601 instants or durations back from now (``15m``, ``2h``, ``7d``).

An instant without a UTC offset is taken as UTC, whatever the client's or the server's time zone, so that
the same command means the same thing everywhere. A relative time is resolved by the database server
(``now() - interval``), so that the client's clock does not shift the window against the recorded
``statement_ts`` values. Anything else is a :class:`~pgaudit_kit.core.errors.UsageError` (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import sql

from ..core.errors import UsageError

_RELATIVE = re.compile(r"(?P<amount>[0-9]{1,9})(?P<unit>s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Far enough back for any history, near enough that now() - interval stays a valid timestamp.
MAX_RELATIVE = timedelta(days=200 * 366)


@dataclass(frozen=True)
class TimeBound:
    """A point in time from the command line: exactly one of *instant* (aware, UTC) and *ago*."""

    text: str
    instant: datetime | None = None
    ago: timedelta | None = None

    def sql(self) -> tuple[sql.Composable, object]:
        """The bound as an SQL expression with one parameter."""
        if self.instant is not None:
            return sql.SQL("%s::timestamptz"), self.instant
        return sql.SQL("(pg_catalog.now() - %s::interval)"), self.ago


def parse_time(value: str, option: str) -> TimeBound:
    """Parse *value* given for *option* (named in the error message)."""
    text = value.strip()
    match = _RELATIVE.fullmatch(text)
    if match:
        seconds = int(match["amount"]) * _UNIT_SECONDS[match["unit"]]
        if seconds > MAX_RELATIVE.total_seconds():
            raise UsageError(f"{option} {_shown(value)}: at most {MAX_RELATIVE.days} days back")
        return TimeBound(text=text, ago=timedelta(seconds=seconds))
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {_shown(value)} is not a time: give ISO 8601 (2026-11-27T10:00:00Z, 2026-11-27 10:00+01:00, "
            "2026-11-27) or a duration back from now (90s, 15m, 2h, 7d, 2w)") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return TimeBound(text=text, instant=instant.astimezone(UTC))
    except OverflowError:
        raise UsageError(f"{option} {_shown(value)} is out of range") from None


def _shown(value: str) -> str:
    """The value as echoed in an error: quoted, control characters escaped, long values cut."""
    return repr(value[:80] + ("..." if len(value) > 80 else ""))


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds when there are any, 'Z' for the offset (what --since accepts)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
