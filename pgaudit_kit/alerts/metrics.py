"""The alerts process's counters as Prometheus metric families (the exposition is the client library's): exposed by
the process itself (``alerts --metrics-textfile`` / ``--metrics-listen``), or read from its state file by
``pgaudit-kit metrics --alerts-state``.

They count since the state file began, across restarts of the process; a new state file starts them again
(Prometheus reads that as a counter reset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import UsageError
from .engine import Stats

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

PREFIX = "pgaudit_kit"


def read_stats(path: Path) -> Stats:
    """The counters kept in an alerts state file. Raises UsageError when it cannot be read or is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Stats.from_dict(dict(data["carried"]["stats"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--alerts-state {path}: not an alerts state file ({exc})") from None


def families(stats: Stats) -> list[Metric]:
    """pgaudit_kit_alerts_fired_total{rule, severity}, pgaudit_kit_alert_deliveries_total{sink},
    pgaudit_kit_alert_delivery_failures_total{sink}, pgaudit_kit_alerts_events_read_total."""
    from prometheus_client.core import CounterMetricFamily

    fired = CounterMetricFamily(f"{PREFIX}_alerts_fired", "Alerts fired and delivered to every sink of their rule.",
                                labels=["rule", "severity"])
    for (rule, severity), count in sorted(stats.fired.items()):
        fired.add_metric([rule, severity], float(count))
    delivered = CounterMetricFamily(f"{PREFIX}_alert_deliveries", "Alerts delivered, by sink.", labels=["sink"])
    failed = CounterMetricFamily(f"{PREFIX}_alert_delivery_failures",
                                 "Deliveries that failed after the sink's own retries (the alert is delivered "
                                 "again later), by sink.", labels=["sink"])
    for sink in sorted(set(stats.delivered) | set(stats.failed)):
        delivered.add_metric([sink], float(stats.delivered.get(sink, 0)))
        failed.add_metric([sink], float(stats.failed.get(sink, 0)))
    read = CounterMetricFamily(f"{PREFIX}_alerts_events_read", "Events the rules were evaluated on.",
                               value=float(stats.events_read))
    return [fired, delivered, failed, read]
