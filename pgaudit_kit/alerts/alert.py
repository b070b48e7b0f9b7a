"""One fired alert, as every format and sink receives it.

An alert is about one recorded event (the event that made the rule fire: a DDL event, the first row past a
mass-change threshold, a write at night...) or about the kit's health (no event). Its ``key`` is what a
receiver de-duplicates on: delivery is at least once, and a repeat after a crash carries the same key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Origin:
    """Which database the alert is about: what a receiver needs to run ``prove`` against the right one."""

    install_id: str
    database: str
    host: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class Alert:
    """A rule that fired.

    * ``rule``, ``severity`` (one of SEVERITIES), ``kind`` (the rule's kind: ddl, privilege, mass_change,
      actor, hours, review, control, health) and ``summary`` (one human line).
    * ``key``: ``event:<event id>:<rule>`` or ``health:<rule>:<since>``; stable across re-deliveries.
    * ``time``: when the fact happened (the event's statement time, or when the health condition was seen).
    * ``event``: the event as ``log --format json`` shows it (``Event.as_dict()``: id, op, table, pk, images,
      actor, roles, context, client, ``seal`` = {"status": "sealed", "seq": N, "block": B} or
      {"status": "pending"}...); None for health alerts.
    * ``facts``: what the rule measured (``{"rows": 1200, "threshold": 1000, "per": "transaction"}``,
      ``{"backlog_events": 52000}``...), JSON values only.
    """

    rule: str
    severity: str
    kind: str
    summary: str
    key: str
    time: datetime
    origin: Origin
    event: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> int | None:
        return int(self.event["id"]) if self.event is not None else None

    @property
    def seal(self) -> dict[str, Any] | None:
        return dict(self.event["seal"]) if self.event is not None else None


__all__ = ["SEVERITIES", "Alert", "Origin"]
