"""Prometheus metrics: the facts doctor reads, as numbers a monitoring system can graph and alert on.

One collection records a review event (command ``metrics``), reads the facts in one snapshot (:mod:`.facts`)
and judges them (:func:`.diagnose.judge`), exactly as doctor does; the metrics are derived from that. Ages are
computed by the database's clock, so a skewed clock on the scraping host changes nothing.

The exposition (text format, textfile or HTTP endpoint) is the Prometheus client library's; this module only
builds the metric families, so it imports that library only when asked to render.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from ..pg import db, reviews
from .diagnose import judge
from .facts import read_facts
from .items import SEVERITIES
from .thresholds import Thresholds

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

PREFIX = "pgaudit_kit"


@dataclass(frozen=True)
class Gauge:
    """One gauge family: name (without the prefix), help text, and its samples (labels, value)."""

    name: str
    help: str
    samples: tuple[tuple[dict[str, str], float], ...]


@dataclass
class SealedCounts:
    """Sealed events per table and operation, counted block by block as they are sealed: a running process
    (metrics --listen) reads each block once, so a collection costs what was sealed since the last one (the
    first reads every stored block). Sealed events never change, so the counts only grow; a restarted process
    starts again from the stored blocks (a counter reset, as Prometheus expects of counters)."""

    after_block: int = -1
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def copy(self) -> SealedCounts:
        return SealedCounts(self.after_block, self.counts.copy())

    def update(self, conn: psycopg.Connection[Any]) -> None:
        newest = conn.execute("SELECT max(block_no) FROM pgaudit_kit.block").fetchone()
        if newest is None or newest[0] is None or int(newest[0]) <= self.after_block:
            return
        for table, op, count in conn.execute(
                """SELECT COALESCE(e.schema_name || '.' || e.table_name, ''), e.op::text, count(*)
                     FROM pgaudit_kit.block b CROSS JOIN LATERAL unnest(b.event_ids) AS u(id)
                     JOIN pgaudit_kit.event e ON e.id = u.id
                    WHERE b.block_no > %s AND b.block_no <= %s GROUP BY 1, 2""", (self.after_block, newest[0])):
            self.counts[(str(table), str(op))] += int(count)
        self.after_block = int(newest[0])


def collect(conn: psycopg.Connection[Any], thresholds: Thresholds | None = None,
            sealed: SealedCounts | None = None) -> list[Gauge]:
    """Record the review, read the facts (and, given *sealed*, count what was sealed since), and return the
    gauges. Raises KitError for environment problems."""
    thresholds = thresholds or Thresholds()
    with db.translated_errors(), reviews.reviewed_read(conn, "metrics", {}):
        conn.execute("SET LOCAL search_path = pg_catalog")  # the queries must mean the built-ins
        facts = read_facts(conn)
        if sealed is not None:
            sealed.update(conn)
    severities = Counter(item.severity for item in judge(facts, thresholds, None, None))
    backlog, checkpoint = facts.backlog, facts.newest_checkpoint
    verify, clean = facts.last_verify, facts.last_clean_verify

    def one(name: str, help_text: str, value: float | None) -> Gauge | None:
        return None if value is None else Gauge(name, help_text, (({}, float(value)),))

    gauges = [
        one("unsealed_events", "Recorded events not sealed into the log yet.", backlog.count),
        one("unsealed_oldest_age_seconds", "Age of the oldest unsealed event (0 when none).",
            backlog.age_seconds or 0.0),
        one("sealed_events", "Events sealed into the log (its tree size).", backlog.tree_size),
        one("last_seal_age_seconds", "Age of the newest sealed block.", backlog.last_seal_age_seconds),
        one("last_checkpoint_age_seconds", "Age of the newest signed checkpoint.",
            checkpoint["age_seconds"] if checkpoint else None),
        one("last_checkpoint_tree_size", "Tree size the newest signed checkpoint covers.",
            checkpoint["tree_size"] if checkpoint else None),
        one("last_verify_age_seconds", "Age of the newest recorded verify result.",
            verify["age_seconds"] if verify else None),
        one("last_verify_clean", "1 if the newest recorded verify result was clean, else 0.",
            (1.0 if verify["clean"] else 0.0) if verify else None),
        one("last_clean_verify_age_seconds", "Age of the newest clean verify result.",
            clean["age_seconds"] if clean else None),
        one("locked_down", "1 while audited writes are locked down.", 1.0 if facts.lockdown.locked else 0.0),
        Gauge("doctor_items", "Doctor's items by severity (thresholds: doctor's defaults).",
              tuple(({"severity": s}, float(severities.get(s, 0))) for s in SEVERITIES)),
    ]
    return [g for g in gauges if g is not None]


def families(gauges: list[Gauge], up: bool, sealed: SealedCounts | None = None) -> list[Metric]:
    """The gauges as Prometheus metric families, with ``pgaudit_kit_up`` (whether the collection worked) and,
    given *sealed*, the counter ``pgaudit_kit_sealed_events_by_table_total{table, op}``."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    out: list[Metric] = []
    up_family = GaugeMetricFamily(f"{PREFIX}_up", "1 if the last collection read the database, else 0.",
                                  value=1.0 if up else 0.0)
    out.append(up_family)
    for gauge in gauges:
        labels = sorted(gauge.samples[0][0]) if gauge.samples else []
        family = GaugeMetricFamily(f"{PREFIX}_{gauge.name}", gauge.help, labels=labels)
        for sample_labels, value in gauge.samples:
            family.add_metric([sample_labels[k] for k in labels], value)
        out.append(family)
    if sealed is not None:
        counter = CounterMetricFamily(f"{PREFIX}_sealed_events_by_table",
                                      "Events sealed since this process started counting, by table and operation "
                                      "(I U D T; S K R without a table).", labels=["table", "op"])
        for (table, op), count in sorted(sealed.counts.items()):
            counter.add_metric([table, op], float(count))
        out.append(counter)
    return out
