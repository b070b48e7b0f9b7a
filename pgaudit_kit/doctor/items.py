"""The report's vocabulary: an :class:`Item` (one finding with a severity and advice) and the
:class:`Report` of them, which fails when any item is a warning or critical."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .thresholds import Thresholds

# Every item of the report, in report order (diagnose.judge makes them; doctor --accept names them).
ITEM_IDS = ("kit_installed", "invariants", "kit_functions", "event_triggers", "event_trigger_control", "superusers",
            "createrole", "kit_roles", "kit_table_writers", "redaction_key_readers", "table_owners", "bypassrls",
            "log_statement", "log_connections", "log_disconnections", "lockdown", "partitions", "backlog",
            "last_checkpoint", "last_verify", "anchor_dir", "key_file")

SEVERITIES = ("ok", "info", "warning", "critical")
FAILING = frozenset({"warning", "critical"})


@dataclass(frozen=True)
class Item:
    """One line of the report. *details* holds the objects behind the finding (JSON-serialisable)."""

    id: str
    severity: str
    finding: str
    advice: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    accepted: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "finding": self.finding, "advice": self.advice,
                "accepted": self.accepted, "details": self.details}


@dataclass
class Report:
    database: str
    server_version: str
    origin: str
    thresholds: Thresholds
    items: list[Item]

    @property
    def summary(self) -> dict[str, int]:
        return {s: sum(1 for i in self.items if i.severity == s) for s in SEVERITIES}

    @property
    def exit_code(self) -> int:
        """1 when any item is a warning or critical, else 0."""
        return 1 if any(i.severity in FAILING for i in self.items) else 0

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.database, "server_version": self.server_version, "origin": self.origin,
                "thresholds": self.thresholds.as_dict(), "summary": self.summary, "exit_code": self.exit_code,
                "items": [i.as_dict() for i in self.items]}
