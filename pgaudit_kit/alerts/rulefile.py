"""The alert rules file: TOML, one documented schema (docs/ALERTS.md), checked whole before anything runs.

Every mistake is a UsageError of one line naming the file, the line and what is wrong (TOML's own syntax
errors included), so a rules file that loads is one the alerts process can run for months.

    [sink.security]                       # where alerts go (formats.py, sinks.py)
    type = "syslog"
    address = "siem.example.com:6514"
    transport = "tls"

    [[rule]]
    name = "mass delete"                  # unique; what receivers see
    kind = "mass_change"                  # one of RULE_KINDS
    severity = "high"                     # info, low, medium, high, critical (default: [defaults] severity)
    sinks = ["security"]                  # default: [defaults] sinks, else every sink
    tables = ["public.accounts"]          # patterns of schema.table (fnmatch); default: every table
    operations = ["DELETE", "TRUNCATE"]
    rows = 1000                           # fires when one statement (per = "transaction": one transaction)
                                          # changes more rows than this
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.errors import UsageError
from .alert import SEVERITIES
from .rules import (
    CONTROL_ACTIONS,
    DEFAULT_CONTROL_ACTIONS,
    DEFAULT_REVIEW_COMMANDS,
    OPERATIONS,
    RULE_KINDS,
    WRITE_OPS,
    ActorRule,
    ControlRule,
    DdlRule,
    HealthRule,
    HoursRule,
    MassChangeRule,
    PrivilegeRule,
    ReviewRule,
    Rule,
    RuleSet,
)

if TYPE_CHECKING:
    from .sinks import Sink

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class RuleError(Exception):
    """A mistake in one place of the rules file: *where* locates it (see _Locator), *message* says what."""

    def __init__(self, where: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.where, self.message = where, message


# -- loading ---------------------------------------------------------------------------------------------
def load(path: Path) -> RuleSet:
    """Read and check *path*, sinks included (built, not connected: a sink connects when it first delivers).
    Raises UsageError ("FILE:LINE: what is wrong") for anything wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--rules {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    locate = _Locator(text)
    try:
        return _parse(path, document)
    except RuleError as exc:
        line = locate(exc.where)
        raise UsageError(f"{path}:{line}: {exc.message}" if line else f"{path}: {exc.message}") from None


def _parse(path: Path, document: dict[str, Any]) -> RuleSet:
    from .sinks import SinkConfigError, build_sink

    _only(document, ("defaults", "sink", "rule"), ())
    defaults = _table(document.get("defaults", {}), ("defaults",))
    _only(defaults, ("severity", "sinks"), ("defaults",))
    sink_tables = _table(document.get("sink", {}), ("sink",))
    sinks: dict[str, Sink] = {}
    for name, options in sink_tables.items():
        where = ("sink", name)
        _name(name, where, "sink")
        options = _table(options, where)
        try:
            sinks[name] = build_sink(name, options)
        except SinkConfigError as exc:
            raise RuleError(where + ((exc.key,) if exc.key else ()), f"sink {name!r}: {exc.message}") from None
    default_severity = _choice(defaults.get("severity", "medium"), SEVERITIES, ("defaults", "severity"), "severity")
    default_sinks = _sink_names(defaults.get("sinks"), sink_tables, ("defaults", "sinks")) if "sinks" in defaults \
        else tuple(sink_tables)
    rules_raw = document.get("rule")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise RuleError((), "no rules: add at least one [[rule]] table")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(rules_raw):
        rule = _rule(index, raw, default_severity, default_sinks, sink_tables)
        if rule.name in seen:
            raise RuleError(("rule", str(index), "name"), f"two rules are named {rule.name!r}")
        seen.add(rule.name)
        rules.append(rule)
    if not sink_tables:
        raise RuleError((), "no sinks: add a [sink.NAME] table (type = \"stdout\" prints JSON lines)")
    return RuleSet(path, tuple(rules), sinks)


_COMMON = ("name", "kind", "severity", "sinks")
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "ddl": ("schemas", "commands", "per"),
    "privilege": ("schemas", "per"),
    "control": ("actions", "tables"),
    "review": ("tables", "commands", "unfiltered"),
    "mass_change": ("tables", "operations", "rows", "per"),
    "actor": ("tables", "operations", "allow_roles", "allow_actors", "per"),
    "hours": ("tables", "operations", "allowed", "days", "timezone", "per"),
    "health": ("verify_failed", "backlog_events", "backlog_age", "checkpoint_age", "check_every"),
}


def _rule(index: int, raw: Any, default_severity: str, default_sinks: tuple[str, ...],
          sink_tables: Mapping[str, Any]) -> Rule:
    where = ("rule", str(index))
    raw = _table(raw, where)

    def at(key: str) -> tuple[str, ...]:
        return where + (key,)

    if "name" not in raw:
        raise RuleError(where, f"rule {index + 1} has no name")
    name = _name(raw["name"], at("name"), "rule")
    label = f"rule {name!r}"
    if "kind" not in raw:
        raise RuleError(where, f"{label} has no kind (one of {', '.join(RULE_KINDS)})")
    kind = _choice(raw["kind"], RULE_KINDS, at("kind"), f"{label}: kind")
    _only(raw, _COMMON + _KIND_KEYS[kind], where, label)
    severity = _choice(raw.get("severity", default_severity), SEVERITIES, at("severity"), f"{label}: severity")
    sinks = _sink_names(raw["sinks"], sink_tables, at("sinks")) if "sinks" in raw else default_sinks
    base: dict[str, Any] = {"name": name, "kind": kind, "severity": severity, "sinks": sinks}
    if kind in ("ddl", "privilege", "actor", "hours"):
        # a migration of fifty statements, or a million rows inserted by the wrong actor, is one alert
        base["per"] = _choice(raw.get("per", "transaction"), ("transaction", "event"), at("per"), f"{label}: per")
    get = _Getter(raw, where, label)
    if kind == "ddl":
        return DdlRule(**base, schemas=get.strings("schemas"), commands=get.strings("commands"))
    if kind == "privilege":
        return PrivilegeRule(**base, schemas=get.strings("schemas"))
    if kind == "control":
        actions = get.strings("actions", DEFAULT_CONTROL_ACTIONS)
        for action in actions:
            if action not in CONTROL_ACTIONS:
                raise RuleError(at("actions"), f"{label}: unknown control action {action!r} "
                                               f"(one of {', '.join(CONTROL_ACTIONS)})")
        return ControlRule(**base, tables=get.patterns("tables"), actions=actions)
    if kind == "review":
        tables = get.patterns("tables")
        if not tables:
            raise RuleError(at("tables") if "tables" in raw else where,
                            f"{label}: a review rule needs tables (the tables whose reviews fire it)")
        return ReviewRule(**base, tables=tables, commands=get.strings("commands", DEFAULT_REVIEW_COMMANDS),
                          unfiltered=get.boolean("unfiltered", True))
    if kind == "mass_change":
        if "rows" not in raw:
            raise RuleError(where, f"{label}: a mass_change rule needs rows (fires above that many)")
        return MassChangeRule(**base, tables=get.patterns("tables"), operations=get.operations(frozenset("UDT")),
                              rows=get.whole("rows", 1), per=_choice(raw.get("per", "statement"),
                                                                     ("statement", "transaction"), at("per"),
                                                                     f"{label}: per"))
    if kind == "actor":
        if "allow_roles" not in raw and "allow_actors" not in raw:
            raise RuleError(where, f"{label}: an actor rule needs allow_roles, allow_actors or both")
        return ActorRule(**base, tables=get.patterns("tables"), operations=get.operations(WRITE_OPS),
                         allow_roles=get.strings("allow_roles") if "allow_roles" in raw else None,
                         allow_actors=(get.strings("allow_actors", empty_allowed=True) if "allow_actors" in raw
                                       else None))
    if kind == "hours":
        return HoursRule(**base, tables=get.patterns("tables"), operations=get.operations(WRITE_OPS),
                         allowed=get.windows("allowed"), days=get.days("days"), timezone=get.zone("timezone"))
    rule = HealthRule(**base, verify_failed=get.boolean("verify_failed", True),
                      backlog_events=get.whole("backlog_events", 1) if "backlog_events" in raw else None,
                      backlog_age=get.duration("backlog_age") if "backlog_age" in raw else None,
                      checkpoint_age=get.duration("checkpoint_age") if "checkpoint_age" in raw else None,
                      check_every=get.duration("check_every") if "check_every" in raw else 60.0)
    if not rule.verify_failed and not rule.periodic:
        raise RuleError(where, f"{label}: a health rule with verify_failed = false needs backlog_events, "
                               "backlog_age or checkpoint_age")
    return rule


class _Getter:
    """Typed reads of one rule's keys, each failing with the key's place and a plain message."""

    def __init__(self, raw: Mapping[str, Any], where: tuple[str, ...], label: str) -> None:
        self.raw, self.where, self.label = raw, where, label

    def _fail(self, key: str, message: str) -> RuleError:
        return RuleError(self.where + (key,), f"{self.label}: {key} {message}")

    def strings(self, key: str, default: Sequence[str] = (), empty_allowed: bool = False) -> tuple[str, ...]:
        value = self.raw.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and (v or empty_allowed) for v in value):
            raise self._fail(key, "must be a list of " + ("strings" if empty_allowed else "non-empty strings"))
        return tuple(value)

    def patterns(self, key: str) -> tuple[str, ...]:
        found = self.strings(key)
        for pattern in found:
            if "." not in pattern:
                raise self._fail(key, f"must name schema.table (pattern {pattern!r} has no schema; "
                                      f"write public.{pattern} or *.{pattern})")
        return found

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "must be true or false")
        return value

    def whole(self, key: str, least: int) -> int:
        value = self.raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self._fail(key, f"must be a whole number of at least {least}")
        return value

    def duration(self, key: str) -> float:
        value = self.raw.get(key)
        seconds = _seconds(value)
        if seconds is None or seconds <= 0:
            raise self._fail(key, "must be a duration above 0: seconds, or text such as \"90s\", \"5m\", \"1h\"")
        return seconds

    def operations(self, default: frozenset[str]) -> frozenset[str]:
        if "operations" not in self.raw:
            return default
        names = self.strings("operations")
        unknown = [n for n in names if n.upper() not in OPERATIONS]
        if unknown or not names:
            raise self._fail("operations", f"must be a list of {', '.join(OPERATIONS)} (not {unknown[0]!r})"
                             if unknown else f"must list at least one of {', '.join(OPERATIONS)}")
        return frozenset(OPERATIONS[n.upper()] for n in names)

    def windows(self, key: str) -> tuple[tuple[time, time], ...]:
        if key not in self.raw:
            raise RuleError(self.where, f"{self.label}: an hours rule needs allowed (windows such as \"08:00-18:00\")")
        found = []
        for text in self.strings(key):
            match = _WINDOW.match(text)
            if not match:
                raise self._fail(key, f"must be windows HH:MM-HH:MM (not {text!r})")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
                raise self._fail(key, f"has a time that does not exist in {text!r}")
            end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
            if (h1, m1) == (h2, m2):
                raise self._fail(key, f"has an empty window {text!r}")
            found.append((time(h1, m1), end))
        return tuple(found)

    def days(self, key: str) -> frozenset[int]:
        if key not in self.raw:
            return frozenset(range(7))
        found = set()
        for day in self.strings(key):
            if day.lower()[:3] not in DAYS:
                raise self._fail(key, f"must name days ({', '.join(DAYS)}), not {day!r}")
            found.add(DAYS.index(day.lower()[:3]))
        return frozenset(found)

    def zone(self, key: str) -> str:
        value = self.raw.get(key, "UTC")
        if not isinstance(value, str):
            raise self._fail(key, "must be a time zone name such as \"Europe/Paris\"")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self._fail(key, f"names no known time zone: {value!r}") from None
        return value


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT[match.group(2)]
    return None










def _table(value: Any, where: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleError(where, f"{'.'.join(where[:2]) or 'the file'} must be a table")
    return value


def _only(raw: Mapping[str, Any], allowed: Sequence[str], where: tuple[str, ...], label: str = "") -> None:
    for key in raw:
        if key not in allowed:
            what = f"{label}: " if label else ""
            raise RuleError(where + (key,), f"{what}unknown key {key!r} (expected one of {', '.join(allowed)})")


def _name(value: Any, where: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or any(c in value for c in "\r\n"):
        raise RuleError(where, f"a {what} name must be non-empty text on one line (at most 200 characters)")
    return value


def _choice(value: Any, choices: Sequence[str], where: tuple[str, ...], label: str) -> str:
    if value not in choices:
        raise RuleError(where, f"{label} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _sink_names(value: Any, sink_tables: Mapping[str, Any], where: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuleError(where, "sinks must be a non-empty list of sink names")
    for name in value:
        if name not in sink_tables:
            known = ", ".join(sink_tables) or "none declared"
            raise RuleError(where, f"sink {name!r} is not declared (declared: {known})")
    return tuple(value)


class _Locator:
    """Finds the line of a place in the file's text: ("rule", "2", "rows") is the `rows =` line of the third
    [[rule]] table, ("sink", "ops") the [sink.ops] header. tomllib keeps no positions; the layouts people write
    (headers and `key = value` lines) are found here, anything else falls back to the enclosing header."""

    _HEADER = re.compile(r"^\s*\[(\[)?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def __call__(self, where: tuple[str, ...]) -> int | None:
        section: tuple[str, ...] = ()
        rule_index = -1
        best: int | None = None
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                name = header.group(2)
                if header.group(1) and name == "rule":
                    rule_index += 1
                    section = ("rule", str(rule_index))
                else:
                    parts = [p.strip().strip("\"'") for p in name.split(".")]
                    section = tuple(parts)
                if section == where[:len(section)] and len(section) <= len(where) and section:
                    best = number
                continue
            key = self._KEY.match(line)
            if key and section and section + (key.group(1).strip("\"'"),) == where[:len(section) + 1] \
                    and len(where) > len(section):
                return number
            if key and not section and where and key.group(1).strip("\"'") == where[0]:
                best = best or number
        return best


def describe(rules: Sequence[Rule]) -> list[str]:
    """One line per rule, for --check: name, kind, severity and sinks."""
    return [f"{r.name}: {r.kind}, {r.severity}, to {', '.join(r.sinks)}" for r in rules]


__all__ = ["DAYS", "describe", "load"]
