"""Checks of server settings: who may switch event triggers off, and what the server log records."""

from __future__ import annotations

from typing import Any

from .facts import Facts
from .items import Item
from .wording import join_names

_OFF = {"off", "false", "no", "0", "f", "n", ""}


def _is_off(value: str) -> bool:
    return value.strip().lower() in _OFF


def _scope(override: dict[str, Any]) -> str:
    """Where an ALTER DATABASE / ALTER ROLE setting applies, in words."""
    role, database = override.get("role"), override.get("database")
    if role and database:
        return f"role {role} in database {database}"
    return f"role {role}" if role else f"database {database}" if database else "every role and database"


def check_event_trigger_control(f: Facts) -> Item:
    supers = [r.name for r in f.roles if r.superuser]
    details: dict[str, Any] = {"superusers": supers, "setting": f.event_triggers_setting,
                               "overrides": f.event_triggers_overrides, "grantees": f.event_triggers_grantees}
    if f.server_major < 17:
        return Item("event_trigger_control", "ok",
                    f"only superusers ({join_names(supers)}) can create, alter, disable or drop event triggers; "
                    f"PostgreSQL {f.server_major} has no event_triggers setting", details=details)
    off = ([f"this session sees event_triggers = {f.event_triggers_setting}"]
           if f.event_triggers_setting is not None and _is_off(f.event_triggers_setting) else [])
    off += [f"set to {o['value']} for {_scope(o)}" for o in f.event_triggers_overrides if _is_off(str(o["value"]))]
    if off:
        return Item("event_trigger_control", "critical", "event triggers are switched off: " + "; ".join(off),
                    "With event_triggers = off no DDL guard runs: capture can be disabled or dropped unrefused and "
                    "unrecorded. Remove the setting (ALTER SYSTEM / ALTER DATABASE / ALTER ROLE ... RESET "
                    "event_triggers; SELECT pg_reload_conf()), then run verify --full and reconcile.", details)
    superusers = set(supers)
    others = [g for g in f.event_triggers_grantees if g["role"] not in superusers]
    if others:
        return Item("event_trigger_control", "warning",
                    "roles other than superusers may switch off event triggers: "
                    + join_names(f"{g['role']} ({g['privilege']})" for g in others),
                    "Anyone who may SET event_triggers = off runs DDL with no guard: a table owner among them can "
                    "disable capture unrefused (detected afterwards by verify/doctor). REVOKE SET, ALTER SYSTEM ON "
                    "PARAMETER event_triggers FROM those roles.", details)
    return Item("event_trigger_control", "ok",
                f"only superusers ({join_names(supers)}) can create, alter, disable or drop event triggers or set "
                "event_triggers = off; it is on", details=details)


def check_log_statement(f: Facts) -> Item:
    value = f.settings["log_statement"]
    weaker = [o for o in f.setting_overrides if o["name"] == "log_statement" and o["value"] == "none"]
    details = {"value": value, "overrides": [o for o in f.setting_overrides if o["name"] == "log_statement"]}
    if value == "none" or weaker:
        where = ([f"log_statement = {value}"] if value == "none" else []) + [
            f"set to none for {_scope(o)}" for o in weaker]
        return Item("log_statement", "warning", "; ".join(where),
                    "Set log_statement = 'ddl' (or 'mod'/'all') so the server log is a second trail of DDL, "
                    "including ALTER EVENT TRIGGER, which the kit cannot refuse or record. A superuser can still "
                    "turn it off for its own session.", details)
    return Item("log_statement", "ok", f"log_statement = {value}", details=details)


def check_log_connections(f: Facts) -> Item:
    value = f.settings["log_connections"]
    if _is_off(value):
        return Item("log_connections", "warning", "log_connections is off",
                    "Set log_connections = on (postgresql.conf or ALTER SYSTEM, then reload) so the server log says "
                    "who connected from where, for the sessions the audit record names.", {"value": value})
    return Item("log_connections", "ok", f"log_connections = {value}", details={"value": value})


def check_log_disconnections(f: Facts) -> Item:
    value = f.settings["log_disconnections"]
    if _is_off(value):
        return Item("log_disconnections", "info", "log_disconnections is off",
                    "Optional: log_disconnections = on records each session's end and duration.", {"value": value})
    return Item("log_disconnections", "ok", f"log_disconnections = {value}", details={"value": value})
