"""The ages beyond which the backlog, the newest checkpoint and the last clean verify are late, and the
durations the command line gives them in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.errors import UsageError


@dataclass(frozen=True)
class Thresholds:
    """Ages (seconds) beyond which the backlog, the newest checkpoint and the last clean verify are late."""

    max_backlog_age: float = 300.0
    max_checkpoint_age: float = 3600.0
    max_verify_age: float = 86400.0

    def as_dict(self) -> dict[str, float]:
        return {"max_backlog_age_seconds": self.max_backlog_age,
                "max_checkpoint_age_seconds": self.max_checkpoint_age,
                "max_verify_age_seconds": self.max_verify_age}


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def parse_duration(text: str) -> float:
    """Seconds in *text*: ``90``, ``90s``, ``15m``, ``1h``, ``2d`` or combinations such as ``1h30m``.

    Raises UsageError for anything else."""
    spec = text.strip().lower()
    parts = _DURATION.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        raise UsageError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 2d)")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)
