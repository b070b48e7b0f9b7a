"""The rule kinds and what each fires on: a rule looks at one recorded event
(:class:`pgaudit_kit.review.events.Event`) and says whether and why it fires. Pure: counting rows for mass_change,
once-per-transaction rules and the periodic health conditions are the engine's; reading the rules file is
rulefile.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ..review.events import Event
    from .sinks import Sink

RULE_KINDS = ("ddl", "privilege", "mass_change", "actor", "hours", "review", "control", "health")
OPERATIONS = {"INSERT": "I", "UPDATE": "U", "DELETE": "D", "TRUNCATE": "T"}
WRITE_OPS = frozenset("IUDT")
# PostgreSQL's command tags for privilege changes (event triggers report them as DDL, op S)
PRIVILEGE_COMMANDS = frozenset({"GRANT", "REVOKE", "ALTER DEFAULT PRIVILEGES"})
# what the kit's control events (op K) record as their action
CONTROL_ACTIONS = ("enable", "options", "rebind", "enable_schema", "disable", "disable_schema", "enrolled",
                   "absorbed", "partition", "retire", "retention", "grant", "revoke", "lockdown", "unlock",
                   "maintenance", "origin_change")
# by default, what weakens capture or touches history: enrolling more is not news, dropping out of it is
DEFAULT_CONTROL_ACTIONS = ("disable", "disable_schema", "options", "lockdown", "unlock", "maintenance", "retire",
                           "retention", "origin_change")
# the review commands that show recorded events (verify, metrics, doctor read facts, not rows)
DEFAULT_REVIEW_COMMANDS = ("log", "history", "tx", "watch", "alerts", "prove", "archive")

Firing = tuple[str, dict[str, Any]]  # (summary, facts)


# -- the rules -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """What every rule has. ``tables`` are fnmatch patterns of ``schema.table`` (empty: every table)."""

    name: str
    kind: str
    severity: str
    sinks: tuple[str, ...]
    tables: tuple[str, ...] = ()
    per: str = "event"  # "transaction": only the first event of a transaction that fires it (the engine's)

    def covers(self, qualified: str | None) -> bool:
        return not self.tables or (qualified is not None and any(fnmatchcase(qualified, p) for p in self.tables))

    def fires(self, event: Event) -> Firing | None:
        """Whether *event* alone makes this rule fire, with a summary and the facts; None otherwise."""
        return None

    def wants(self) -> frozenset[str]:
        """The event ops this rule looks at (the engine reads only those)."""
        return frozenset()


@dataclass(frozen=True)
class DdlRule(Rule):
    """A schema change (op S, other than privileges) in given schemas (default: any audited one)."""

    schemas: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # fnmatch patterns of command tags ("DROP *"); default: every one

    def wants(self) -> frozenset[str]:
        return frozenset("S")

    def fires(self, event: Event) -> Firing | None:
        details = event.details or {}
        tag = str(details.get("command_tag") or "")
        if event.op != "S" or tag in PRIVILEGE_COMMANDS or not _in(event.schema, self.schemas):
            return None
        if self.commands and not any(fnmatchcase(tag, p) for p in self.commands):
            return None
        return _command_summary(event, tag), {"command_tag": tag, "object_type": details.get("object_type"),
                                              "object_identity": details.get("object_identity")}


@dataclass(frozen=True)
class PrivilegeRule(Rule):
    """GRANT, REVOKE, ALTER DEFAULT PRIVILEGES (op S) and grants or revokes of the kit's roles (op K)."""

    schemas: tuple[str, ...] = ()

    def wants(self) -> frozenset[str]:
        return frozenset("SK")

    def fires(self, event: Event) -> Firing | None:
        details = event.details or {}
        if event.op == "S" and details.get("command_tag") in PRIVILEGE_COMMANDS and _in(event.schema, self.schemas):
            return (_command_summary(event, str(details["command_tag"])),
                    {"command_tag": details["command_tag"], "object_identity": details.get("object_identity")})
        if event.op == "K" and details.get("action") in ("grant", "revoke"):
            return (f"{details['action']} of kit role {details.get('kit_role')} to {details.get('role')}",
                    {"action": details["action"], "kit_role": details.get("kit_role"), "role": details.get("role")})
        return None


@dataclass(frozen=True)
class ControlRule(Rule):
    """Kit control events (op K) whose action is one of ``actions``."""

    actions: tuple[str, ...] = DEFAULT_CONTROL_ACTIONS

    def wants(self) -> frozenset[str]:
        return frozenset("K")

    def fires(self, event: Event) -> Firing | None:
        details = event.details or {}
        action = details.get("action")
        if event.op != "K" or action not in self.actions:
            return None
        if self.tables and event.table is not None and not self.covers(event.qualified_table):
            return None
        target = f" of {event.qualified_table}" if event.table else (f" of schema {event.schema}" if event.schema
                                                                     else "")
        reason = details.get("reason")
        return (f"kit {action}{target}" + (f": {reason}" if isinstance(reason, str) and reason else ""),
                {"action": action, **{k: v for k, v in details.items() if k != "action"}})


@dataclass(frozen=True)
class ReviewRule(Rule):
    """Reviews (op R) of given tables by given commands; a review that names no table reads them all and
    counts too unless ``unfiltered = false``."""

    commands: tuple[str, ...] = DEFAULT_REVIEW_COMMANDS
    unfiltered: bool = True

    def wants(self) -> frozenset[str]:
        return frozenset("R")

    def fires(self, event: Event) -> Firing | None:
        details = event.details or {}
        command = details.get("command")
        if event.op != "R" or command not in self.commands:
            return None
        recorded = details.get("filter")
        named = _review_tables(recorded if isinstance(recorded, dict) else {})
        if named:
            hit = [t for t in named if any(_table_matches(t, p) for p in self.tables)]
            if not hit:
                return None
        elif not self.unfiltered:
            return None
        else:
            hit = []
        who = event.actor or event.session_role or "someone"
        what = ", ".join(hit) if hit else "every table"
        return f"{who} reviewed {what} ({command})", {"command": command, "filter": recorded}


@dataclass(frozen=True)
class WriteRule(Rule):
    """What the rules about writes (op I U D T) share: the tables and operations they watch."""

    operations: frozenset[str] = WRITE_OPS

    def wants(self) -> frozenset[str]:
        return self.operations

    def watched(self, event: Event) -> bool:
        return event.op in self.operations and self.covers(event.qualified_table)


@dataclass(frozen=True)
class MassChangeRule(WriteRule):
    """More than ``rows`` rows of one table changed by one statement or one transaction (``per``). The
    engine counts; a statement is the events of one transaction with the same statement time."""

    operations: frozenset[str] = frozenset("UDT")
    rows: int = 1000
    per: str = "statement"  # or "transaction"

    def group(self, event: Event) -> tuple[Any, ...] | None:
        """What the engine counts this event in (None: not watched)."""
        if not self.watched(event):
            return None
        base = (self.name, event.xid, event.qualified_table, event.op)
        return base + (event.time.isoformat(),) if self.per == "statement" else base

    def crossed(self, event: Event) -> Firing:
        op = OPERATION_NAMES.get(event.op, event.op)
        return (f"more than {self.rows} rows of {event.qualified_table} changed by one {self.per} ({op})",
                {"rows_over": self.rows, "per": self.per, "operation": op, "xid": event.xid})


@dataclass(frozen=True)
class ActorRule(WriteRule):
    """A write by a role (the session's login role) or a claimed actor outside the allow-lists (fnmatch
    patterns; a write with no actor is the actor "")."""

    allow_roles: tuple[str, ...] | None = None
    allow_actors: tuple[str, ...] | None = None

    def fires(self, event: Event) -> Firing | None:
        if not self.watched(event):
            return None
        role, actor = event.session_role or "", event.actor or ""
        if self.allow_roles is not None and not any(fnmatchcase(role, p) for p in self.allow_roles):
            return f"{OPERATION_NAMES[event.op]} of {event.qualified_table} by role {role}", {"role": role}
        if self.allow_actors is not None and not any(fnmatchcase(actor, p) for p in self.allow_actors):
            shown = actor or "no actor"
            return f"{OPERATION_NAMES[event.op]} of {event.qualified_table} by {shown}", {"actor": event.actor}
        return None


@dataclass(frozen=True)
class HoursRule(WriteRule):
    """A write outside the allowed hours: ``allowed`` windows ("08:00-18:00"; one may cross midnight) on the
    given ``days``, in ``timezone``. On other days every write is outside."""

    allowed: tuple[tuple[time, time], ...] = ()
    days: frozenset[int] = frozenset(range(7))
    timezone: str = "UTC"

    def inside(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        for start, end in self.allowed:
            if start <= end:
                if start <= clock < end and local.weekday() in self.days:
                    return True
            elif clock >= start and local.weekday() in self.days:  # 22:00-06:00: the evening belongs to today
                return True
            elif clock < end and (local.weekday() - 1) % 7 in self.days:  # ... and the morning to yesterday
                return True
        return False

    def fires(self, event: Event) -> Firing | None:
        if not self.watched(event) or self.inside(event.time):
            return None
        local = event.time.astimezone(ZoneInfo(self.timezone))
        return (f"{OPERATION_NAMES[event.op]} of {event.qualified_table} at {local:%a %H:%M} {self.timezone}",
                {"local_time": local.isoformat(), "timezone": self.timezone})


@dataclass(frozen=True)
class HealthRule(Rule):
    """The kit's health: a verify that found something (its recorded result, an event), and, checked every
    ``check_every`` seconds, the unsealed backlog and the newest checkpoint's age over thresholds."""

    verify_failed: bool = True
    backlog_events: int | None = None
    backlog_age: float | None = None
    checkpoint_age: float | None = None
    check_every: float = 60.0

    def wants(self) -> frozenset[str]:
        return frozenset("R") if self.verify_failed else frozenset()

    def fires(self, event: Event) -> Firing | None:
        details = event.details or {}
        result = details.get("filter")
        if (not self.verify_failed or event.op != "R" or details.get("command") != "verify-result"
                or not isinstance(result, dict) or result.get("clean") is not False):
            return None
        counts = result.get("finding_counts")
        kinds = ", ".join(sorted(str(k) for k in counts)) if isinstance(counts, dict) else ""
        return (f"verify found problems ({kinds})" if kinds else "verify found problems",
                {"verify": result})

    @property
    def periodic(self) -> bool:
        return any(v is not None for v in (self.backlog_events, self.backlog_age, self.checkpoint_age))


OPERATION_NAMES = {code: name for name, code in OPERATIONS.items()}


@dataclass(frozen=True)
class RuleSet:
    """A loaded rules file: the rules in file order and the sinks by name."""

    path: Path
    rules: tuple[Rule, ...]
    sinks: Mapping[str, Sink] = field(default_factory=dict)

    def wanted_ops(self) -> frozenset[str]:
        return frozenset().union(*(r.wants() for r in self.rules))

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()

def _command_summary(event: Event, tag: str) -> str:
    """What was run, as the client sent it (whitespace folded, at most 200 characters): an ALTER TABLE says more
    than the DROP TRIGGER the kit ran for it in the same statement; else the command tag and its object."""
    if event.statement and event.statement.strip():
        text = " ".join(event.statement.split())
        return text if len(text) <= 200 else text[:199] + "…"
    details = event.details or {}
    return f"{tag} {details.get('object_identity') or event.qualified_table or ''}".strip()

def _in(schema: str | None, schemas: tuple[str, ...]) -> bool:
    return not schemas or schema in schemas

def _table_matches(named: str, pattern: str) -> bool:
    """A table as a review recorded it (as typed: "salaries", "public.salaries", "\"Odd\".t") against a pattern
    of schema.table; an unqualified name matches any schema (over-alerting beats missing a review)."""
    plain = named.replace('"', "")
    if "." in plain:
        return fnmatchcase(plain, pattern)
    return fnmatchcase(plain, pattern.split(".", 1)[1])

def _review_tables(recorded: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key in ("table", "tables"):  # log, watch and history record "table"; reconcile "tables"
        value = recorded.get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(str(v) for v in value if isinstance(v, str))
    return found


__all__ = ["CONTROL_ACTIONS", "OPERATIONS", "RULE_KINDS", "ActorRule", "ControlRule", "DdlRule", "HealthRule",
           "HoursRule", "MassChangeRule", "PrivilegeRule", "ReviewRule", "Rule", "RuleSet"]
