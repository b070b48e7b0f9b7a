"""The alert rules file (pgaudit_kit.alerts.rulefile, .rules): what loads, what each rule kind fires on and stays
quiet on, and that every mistake is one line naming the file and the line at fault. No database: events are built
here as the review layer reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pgaudit_kit.alerts import rulefile, rules
from pgaudit_kit.core.errors import UsageError
from pgaudit_kit.review.events import Event

SINK = '[sink.out]\ntype = "stdout"\n'


def load(tmp_path: Path, text: str) -> rules.RuleSet:
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    return rulefile.load(path)


def one(tmp_path: Path, body: str) -> rules.Rule:
    ruleset = load(tmp_path, SINK + '[[rule]]\nname = "r"\n' + body)
    assert len(ruleset.rules) == 1
    return ruleset.rules[0]


def event(op: str = "U", *, schema: str | None = "public", table: str | None = "accounts", details: Any = None,
          actor: str | None = None, role: str | None = "app", when: datetime | None = None, xid: int = 900) -> Event:
    row = details if op in ("S", "K", "R") else {"id": "1"}
    return Event(id=4096, xid=xid, time=when or datetime(2026, 12, 7, 14, 0, tzinfo=UTC), op=op, relid=16384,
                 schema=schema, table=table, partition=None, pk={"id": "1"}, row_data=row, old_values=None,
                 statement=None, has_transaction=True, actor=actor, acting_role=role, session_role=role,
                 context=None, context_raw=None, application_name=None, client_addr=None, client_port=None,
                 backend_pid=None, xact_start=None)


def test_a_complete_file_loads_with_defaults(tmp_path: Path) -> None:
    ruleset = load(tmp_path, SINK + '[sink.file]\ntype = "file"\npath = "' + str(tmp_path / "a.log") + '"\n'
                   '[defaults]\nseverity = "high"\nsinks = ["file"]\n'
                   '[[rule]]\nname = "ddl"\nkind = "ddl"\n'
                   '[[rule]]\nname = "night"\nkind = "hours"\nallowed = ["08:00-18:00"]\nsinks = ["out", "file"]\n'
                   'severity = "low"\n')
    ddl, night = ruleset.rules
    assert (ddl.severity, ddl.sinks) == ("high", ("file",))
    assert (night.severity, night.sinks) == ("low", ("out", "file"))
    assert ruleset.wanted_ops() == frozenset("SIUDT")
    ruleset.close()


@pytest.mark.parametrize(("text", "line", "needle"), [
    (SINK + '[[rule]]\nname = "a"\nkind = "nope"\n', 5, "kind must be one of"),
    (SINK + '[[rule]]\nname = "a"\nkind = "ddl"\n\n[[rule]]\nname = "b"\nkind = "mass_change"\nrows = -3\n', 10,
     "rows must be a whole number"),
    (SINK + '[[rule]]\nname = "a"\nkind = "ddl"\ncolour = "red"\n', 6, "unknown key 'colour'"),
    (SINK + '[[rule]]\nname = "a"\nkind = "ddl"\nsinks = ["pager"]\n', 6, "sink 'pager' is not declared"),
    (SINK + '[[rule]]\nname = "a"\nkind = "ddl"\n[[rule]]\nname = "a"\nkind = "ddl"\n', 7, "two rules are named"),
    (SINK + '[[rule]]\nname = "a"\nkind = "hours"\nallowed = ["8-18"]\n', 6, "windows HH:MM-HH:MM"),
    (SINK + '[[rule]]\nname = "a"\nkind = "hours"\nallowed = ["08:00-18:00"]\ntimezone = "Mars/Base"\n', 7,
     "no known time zone"),
    (SINK + '[[rule]]\nname = "a"\nkind = "review"\n', 3, "needs tables"),
    (SINK + '[[rule]]\nname = "a"\nkind = "mass_change"\nrows = 5\ntables = ["accounts"]\n', 7, "has no schema"),
    (SINK + '[[rule]]\nname = "a"\nkind = "control"\nactions = ["dissable"]\n', 6, "unknown control action"),
    (SINK + '[[rule]]\nname = "a"\nkind = "actor"\n', 3, "needs allow_roles, allow_actors"),
    (SINK + '[[rule]]\nname = "a"\nkind = "health"\nbacklog_age = "soon"\n', 6, "must be a duration"),
    (SINK + '[[rule]]\nname = "a"\nkind = "mass_change"\nrows = 5\noperations = ["MERGE"]\n', 7,
     "must be a list of INSERT"),
    ('[sink.out]\ntype = "carrier-pigeon"\n[[rule]]\nname = "a"\nkind = "ddl"\n', 2, "sink 'out'"),
    (SINK + '[[rule]]\nname = "a"\nkind = "ddl"\nseverity = "urgent"\n', 6, "severity must be one of"),
    (SINK + '[[rule]]\nname = "a"\nkind = "ddl"\n[[rule]\n', 6, "line 6"),  # TOML's own syntax error
])
def test_mistakes_name_the_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    with pytest.raises(UsageError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message
    assert needle in message
    if "line" not in needle:
        assert message.startswith(f"{tmp_path / 'alerts.toml'}:{line}: "), message


def test_a_file_without_rules_or_sinks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no rules"):
        load(tmp_path, SINK)
    with pytest.raises(UsageError, match="no sinks"):
        load(tmp_path, '[[rule]]\nname = "a"\nkind = "ddl"\n')
    with pytest.raises(UsageError, match="cannot read it"):
        rulefile.load(tmp_path / "missing.toml")


def test_ddl_rule_fires_on_schema_changes_but_not_privileges(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "ddl"\nschemas = ["public"]\ncommands = ["DROP *", "ALTER TABLE"]\n')
    drop = event("S", details={"command_tag": "DROP TABLE", "object_identity": "public.accounts"})
    fired = rule.fires(drop)
    assert fired is not None and fired[0] == "DROP TABLE public.accounts"
    assert rule.fires(event("S", details={"command_tag": "CREATE INDEX", "object_identity": "public.i"})) is None
    assert rule.fires(event("S", schema="other", details={"command_tag": "DROP TABLE"})) is None
    assert rule.fires(event("S", details={"command_tag": "GRANT"})) is None
    assert rule.fires(event("U")) is None


def test_privilege_rule_fires_on_grants_and_kit_role_changes(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "privilege"\n')
    assert rule.fires(event("S", details={"command_tag": "GRANT", "object_identity": "public.accounts"}))
    assert rule.fires(event("S", details={"command_tag": "ALTER DEFAULT PRIVILEGES"}))
    kit = rule.fires(event("K", schema=None, table=None,
                           details={"action": "grant", "kit_role": "pgaudit_kit_admin", "role": "mallory"}))
    assert kit is not None and "mallory" in kit[0]
    assert rule.fires(event("K", details={"action": "disable"})) is None
    assert rule.fires(event("S", details={"command_tag": "ALTER TABLE"})) is None


def test_control_rule_fires_on_chosen_actions(tmp_path: Path) -> None:
    default = one(tmp_path, 'kind = "control"\n')
    assert default.fires(event("K", details={"action": "disable"}))
    assert default.fires(event("K", schema=None, table=None, details={"action": "lockdown", "reason": "verify"}))
    assert default.fires(event("K", details={"action": "enable"})) is None  # enrolling more is not news
    chosen = one(tmp_path, 'kind = "control"\nactions = ["enable"]\ntables = ["public.acc*"]\n')
    assert chosen.fires(event("K", details={"action": "enable"}))
    assert chosen.fires(event("K", table="orders", details={"action": "enable"})) is None


def test_review_rule_fires_on_reviews_of_its_tables(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "review"\ntables = ["public.salaries"]\n')

    def review(command: str, flt: dict[str, Any]) -> Event:
        return event("R", schema=None, table=None, details={"command": command, "filter": flt})

    assert rule.fires(review("history", {"table": "public.salaries", "pk": "7"}))
    assert rule.fires(review("log", {"table": ["orders", "salaries"]}))  # unqualified, as typed
    assert rule.fires(review("log", {}))  # every table, salaries included
    assert rule.fires(review("log", {"table": ["public.orders"]})) is None
    assert rule.fires(review("verify", {})) is None
    strict = one(tmp_path, 'kind = "review"\ntables = ["public.salaries"]\nunfiltered = false\n')
    assert strict.fires(review("log", {})) is None


def test_mass_change_rule_groups_by_statement_or_transaction(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "mass_change"\nrows = 2\ntables = ["public.*"]\n')
    assert isinstance(rule, rules.MassChangeRule)
    first, second = event("D"), event("D", when=datetime(2026, 12, 7, 14, 0, 1, tzinfo=UTC))
    assert rule.group(first) != rule.group(second)  # two statements of one transaction
    assert rule.group(event("I")) is None  # default operations: UPDATE, DELETE, TRUNCATE
    assert rule.group(event("D", schema="audit")) is None
    per_tx = one(tmp_path, 'kind = "mass_change"\nrows = 2\nper = "transaction"\n')
    assert isinstance(per_tx, rules.MassChangeRule)
    assert per_tx.group(first) == per_tx.group(second)
    assert per_tx.group(first) != per_tx.group(event("D", xid=901))


def test_actor_rule_allow_lists(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "actor"\nallow_roles = ["app", "etl_*"]\nallow_actors = ["svc-*", ""]\n')
    assert rule.fires(event(role="app", actor="svc-billing")) is None
    assert rule.fires(event(role="etl_nightly")) is None  # no actor: "" is allowed here
    fired = rule.fires(event(role="postgres"))
    assert fired is not None and "postgres" in fired[0]
    assert rule.fires(event(role="app", actor="mallory@example.com"))
    assert rule.fires(event("S", role="postgres", details={"command_tag": "ALTER TABLE"})) is None


def test_hours_rule_in_its_time_zone_with_windows_across_midnight(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "hours"\nallowed = ["08:00-18:00"]\ndays = ["mon", "tue", "wed", "thu", "fri"]\n'
                         'timezone = "Europe/Paris"\n')
    monday = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday; Paris is UTC+1 in December

    def at(day: datetime, hour: int, minute: int = 0) -> Event:
        return event(when=day.replace(hour=hour, minute=minute))

    assert rule.fires(at(monday, 7, 30)) is None  # 08:30 in Paris
    assert rule.fires(at(monday, 16, 59)) is None  # 17:59
    assert rule.fires(at(monday, 17, 0))  # 18:00: the window's end is outside
    assert rule.fires(at(monday, 6, 59))
    assert rule.fires(at(monday.replace(day=12), 10))  # a Saturday
    night = one(tmp_path, 'kind = "hours"\nallowed = ["22:00-06:00"]\ndays = ["mon"]\n')
    assert night.fires(at(monday, 23)) is None
    assert night.fires(at(monday.replace(day=8), 5)) is None  # Tuesday early morning: Monday's night
    assert night.fires(at(monday.replace(day=8), 23))  # Tuesday night is not allowed
    assert night.fires(at(monday, 12))


def test_health_rule_fires_on_a_failed_verify_result(tmp_path: Path) -> None:
    rule = one(tmp_path, 'kind = "health"\nbacklog_events = 100000\ncheckpoint_age = "1h"\n')
    assert isinstance(rule, rules.HealthRule)
    assert (rule.backlog_events, rule.checkpoint_age, rule.periodic) == (100000, 3600.0, True)
    failed = event("R", schema=None, table=None, details={"command": "verify-result", "filter": {
        "clean": False, "finding_counts": {"leaf_mismatch": 2}}})
    fired = rule.fires(failed)
    assert fired is not None and "leaf_mismatch" in fired[0]
    clean = event("R", schema=None, table=None, details={"command": "verify-result", "filter": {"clean": True}})
    assert rule.fires(clean) is None
    hostile = event("R", schema=None, table=None, details={"command": "verify-result", "filter": "clean"})
    assert rule.fires(hostile) is None
