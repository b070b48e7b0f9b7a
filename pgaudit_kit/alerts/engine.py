"""`pgaudit-kit alerts`: the rules run over new events as they commit, and over the kit's health, with every
alert delivered at least once.

Events come from the watch machinery (:class:`pgaudit_kit.review.watch.Watcher`: woken by notification,
exactly once each, resumable from a state file). An event is *taken* only when every alert it fires has been
delivered to every sink of its rule; a sink that fails makes the event wait (:class:`Pause`): the position
stays before it, so after a crash of this process, of a receiver or of the database, the event is read and
its alerts delivered again. A repeat carries the same alert key (``event:<id>:<rule>``), which is what a
receiver de-duplicates on.

Counting rows for mass_change rules is part of that state, and so is which transactions already fired a rule
that fires once per transaction (``per = "transaction"``, the default of ddl, privilege, actor and hours
rules): both are saved with the position, so a restart half-way through a large transaction neither loses
its count nor fires twice. Health conditions (backlog, checkpoint age) are checked every
``check_every`` seconds between batches; each episode (from the moment a condition is seen until it clears)
fires once, keyed by the time it was first seen, which is saved too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from ..review.events import Event
from ..review.query import EventFilter
from ..review.timeparse import TimeBound
from ..review.watch import Pause, Watcher, WatchOptions
from .alert import Alert, Origin
from .rules import HealthRule, MassChangeRule, Rule, RuleSet
from .sinks import DeliveryFailed

RETRY_FIRST, RETRY_MAX = 1.0, 60.0  # seconds before re-reading an event whose alert could not be delivered


@dataclass
class Stats:
    """What the alerts process did, for metrics: alerts fired by (rule, severity), deliveries and failed
    deliveries by sink, events read. Kept in the state file, so they count since the state began, across
    restarts (a repeat after a crash counts again)."""

    fired: Counter[tuple[str, str]] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    events_read: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"fired": [[rule, severity, count] for (rule, severity), count in sorted(self.fired.items())],
                "delivered": dict(self.delivered), "failed": dict(self.failed), "events_read": self.events_read}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        """Raises ValueError, TypeError or KeyError for what the state file should not hold."""
        return cls(Counter({(str(r), str(s)): int(c) for r, s, c in data.get("fired") or []}),
                   Counter({str(k): int(v) for k, v in dict(data.get("delivered") or {}).items()}),
                   Counter({str(k): int(v) for k, v in dict(data.get("failed") or {}).items()}),
                   int(data.get("events_read") or 0))


class Alerter:
    """Runs *ruleset* over new events (and the health rules over the kit's state), handing each alert to
    *deliver* (the sinks; tests and --test pass their own). See the module docstring for the guarantees."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], ruleset: RuleSet, options: WatchOptions,
                 note: Callable[[str], None], deliver: Callable[[Alert], None] | None = None,
                 since: TimeBound | None = None) -> None:
        self.ruleset = ruleset
        self.note = note
        self.deliver = deliver or self._to_sinks
        self._sinks_of = {rule.name: rule.sinks for rule in ruleset.rules}  # names are unique (rulefile)
        self.stats = Stats()
        self.origin: Origin | None = None
        # in the window being read: rows seen per mass_change group, and the transactions that fired a rule that
        # fires once per transaction
        self._counts: dict[str, int] = {}
        self._episodes: dict[str, str] = {}  # "rule\x1fcondition" -> when first seen (ISO), while it lasts
        self._next_health = 0.0
        self._retry = RETRY_FIRST
        self._health_rules = [r for r in ruleset.rules if isinstance(r, HealthRule) and r.periodic]
        ops = ruleset.wanted_ops()
        flt = EventFilter(ops=ops or frozenset("K"), since=since)
        self._connect = connect
        self.watcher = Watcher(self._open, flt, options, self._take, note, idle=self._idle,
                               carried=(self._carried, self._restore))

    def run(self) -> None:
        self.watcher.run()

    def _open(self) -> psycopg.Connection[Any]:
        conn = self._connect()
        if self.origin is None:
            try:
                self.origin = read_origin(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    # -- events ------------------------------------------------------------------------------------------
    def _take(self, event: Event) -> None:
        """Fire the rules on *event* and deliver; count it only once everything is delivered (a Pause leaves
        the counts as they were, so that the event is counted once when it is read again)."""
        alerts, counts = self.evaluate(event)
        for alert in alerts:
            self._send(alert)
        self._counts.update(counts)
        self.stats.events_read += 1
        self._retry = RETRY_FIRST

    def evaluate(self, event: Event) -> tuple[list[Alert], dict[str, int]]:
        """The alerts *event* fires, and the mass_change counts it moves (not applied)."""
        alerts: list[Alert] = []
        counts: dict[str, int] = {}
        shown: dict[str, Any] | None = None
        for rule in self.ruleset.rules:
            if isinstance(rule, MassChangeRule):
                group = rule.group(event)
                if group is None:
                    continue
                key = "\x1f".join(str(part) for part in group)
                seen = counts[key] = self._counts.get(key, 0) + 1
                if seen != rule.rows + 1:
                    continue
                summary, facts = rule.crossed(event)
            else:
                once = f"{rule.name}\x1f{event.xid}" if rule.per == "transaction" else None
                if once is not None and (once in counts or once in self._counts):
                    continue
                fired = rule.fires(event)
                if fired is None:
                    continue
                summary, facts = fired
                if once is not None:
                    counts[once] = 1
                    facts = {**facts, "per": "transaction", "xid": event.xid}
            shown = shown or event.as_dict()
            alerts.append(self._alert(rule, summary, facts, f"event:{event.id}:{rule.name}", event.time, shown))
        return alerts, counts

    def _alert(self, rule: Rule, summary: str, facts: dict[str, Any], key: str, when: datetime,
               event: dict[str, Any] | None) -> Alert:
        assert self.origin is not None  # read when the first connection opened
        return Alert(rule=rule.name, severity=rule.severity, kind=rule.kind, summary=summary, key=key, time=when,
                     origin=self.origin, event=event, facts=facts)

    def _send(self, alert: Alert) -> None:
        try:
            self.deliver(alert)
        except DeliveryFailed as exc:
            delay, self._retry = self._retry, min(self._retry * 2, RETRY_MAX)
            raise Pause(delay, f"alert {alert.key} not delivered: {exc}") from None
        self.stats.fired[(alert.rule, alert.severity)] += 1

    def _to_sinks(self, alert: Alert) -> None:
        for name in self._sinks_of[alert.rule]:
            sink = self.ruleset.sinks[name]
            try:
                sink.deliver(alert)
            except DeliveryFailed:
                self.stats.failed[name] += 1
                raise
            self.stats.delivered[name] += 1

    # -- between batches ---------------------------------------------------------------------------------
    def _idle(self, conn: psycopg.Connection[Any]) -> None:
        # a batch ends with every transaction of its window read whole: no count is needed any more
        self._counts.clear()
        if self._health_rules and time.monotonic() >= self._next_health:
            self.check_health(conn)
            self._next_health = time.monotonic() + min(r.check_every for r in self._health_rules)

    def check_health(self, conn: psycopg.Connection[Any]) -> list[Alert]:
        """Fire each health condition that has begun since the last check (once per episode); returns what
        fired."""
        state = read_health(conn)
        fired: list[Alert] = []
        before = dict(self._episodes)
        try:
            for rule in self._health_rules:
                fired.extend(self._check_rule(rule, state))
        finally:
            if self._episodes != before:  # an episode began or ended: that is state, saved at once
                self.watcher.save_state()
        return fired

    def _check_rule(self, rule: HealthRule, state: HealthState) -> Iterator[Alert]:
        for condition, value, limit in _conditions(rule, state):
            key = f"{rule.name}\x1f{condition}"
            if value is None or value <= limit:
                self._episodes.pop(key, None)
                continue
            if key in self._episodes:
                continue
            since = state.now.isoformat()
            alert = self._alert(rule, _health_summary(condition, value, limit),
                                {"condition": condition, "threshold": limit,
                                 "value": None if value == float("inf") else value},
                                f"health:{rule.name}:{condition}:{since}", state.now, None)
            self._send(alert)
            self._episodes[key] = since
            yield alert

    # -- state kept with the position --------------------------------------------------------------------
    def _carried(self) -> dict[str, Any]:
        return {"counts": dict(self._counts), "episodes": dict(self._episodes), "stats": self.stats.as_dict()}

    def _restore(self, data: dict[str, Any]) -> None:
        self._counts = {str(k): int(v) for k, v in dict(data.get("counts") or {}).items()}
        self._episodes = {str(k): str(v) for k, v in dict(data.get("episodes") or {}).items()}
        self.stats = Stats.from_dict(dict(data.get("stats") or {}))


@dataclass(frozen=True)
class HealthState:
    now: datetime
    backlog_events: int | None
    backlog_age: float | None
    checkpoint_age: float | None


def read_health(conn: psycopg.Connection[Any]) -> HealthState:
    """The unsealed backlog and the newest checkpoint's age, by the database's clock."""
    from ..doctor.facts import read_newest_checkpoint
    from ..log import sealing

    with conn.transaction():
        conn.execute("SET LOCAL search_path = pg_catalog")  # the queries must mean the built-ins
        backlog = sealing.backlog(conn)
        checkpoint = read_newest_checkpoint(conn)
        row = conn.execute("SELECT pg_catalog.now()").fetchone()
    now = row[0] if row else datetime.now(UTC)
    return HealthState(now, backlog.count, backlog.age_seconds or 0.0,
                       float(checkpoint["age_seconds"]) if checkpoint else None)


def _conditions(rule: HealthRule, state: HealthState) -> Iterator[tuple[str, float | None, float]]:
    if rule.backlog_events is not None:
        yield "backlog_events", state.backlog_events, rule.backlog_events
    if rule.backlog_age is not None:
        yield "backlog_age", state.backlog_age, rule.backlog_age
    if rule.checkpoint_age is not None:
        # no checkpoint at all is as stale as it gets
        yield "checkpoint_age", state.checkpoint_age if state.checkpoint_age is not None else float("inf"), \
            rule.checkpoint_age


def _health_summary(condition: str, value: float, limit: float) -> str:
    if condition == "backlog_events":
        return f"{value:,.0f} events unsealed (threshold {limit:,.0f})"
    if condition == "backlog_age":
        return f"oldest unsealed event is {value:,.0f} s old (threshold {limit:,.0f} s)"
    if value == float("inf"):
        return "no signed checkpoint at all"
    return f"newest checkpoint is {value:,.0f} s old (threshold {limit:,.0f} s)"


def read_origin(conn: psycopg.Connection[Any]) -> Origin:
    """The installation and database *conn* reaches (a socket directory is not a host a receiver can use)."""
    row = conn.execute("SELECT (SELECT install_id::text FROM pgaudit_kit.install), "
                       "pg_catalog.current_database()::text").fetchone()
    info = conn.info
    host = info.host if info.host and not info.host.startswith("/") else None
    return Origin(install_id=str(row[0] or "") if row else "", database=str(row[1]) if row else "", host=host,
                  port=info.port if host else None)


__all__ = ["Alerter", "HealthState", "Stats", "read_health", "read_origin"]
