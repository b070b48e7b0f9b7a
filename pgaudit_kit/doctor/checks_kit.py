"""Checks of the kit itself: its schema revision, its invariants, its functions and its event triggers."""

from __future__ import annotations

from .facts import Facts
from .items import Item
from .wording import count_noun


def check_kit_installed(f: Facts) -> Item:
    if f.installed_revision is None:
        return Item("kit_installed", "info", "the installed revision is not readable by this role "
                    "(pgaudit_kit.alembic_version belongs to the installing superuser)",
                    f"Run doctor or pgaudit-kit status as a superuser to compare it with {f.newest_revision}, the "
                    "newest this pgaudit-kit ships.", {"installed": None, "newest": f.newest_revision})
    if f.installed_revision == f.newest_revision:
        return Item("kit_installed", "ok", f"revision {f.installed_revision} is the newest this pgaudit-kit ships",
                    details={"installed": f.installed_revision, "newest": f.newest_revision})
    return Item("kit_installed", "warning",
                f"the kit's schema is at revision {f.installed_revision}, this pgaudit-kit ships {f.newest_revision}",
                "Run pgaudit-kit install (as a superuser) to upgrade; review it first with install --sql.",
                {"installed": f.installed_revision, "newest": f.newest_revision})


def check_invariants(f: Facts) -> Item:
    problems = f.invariant_problems
    if not problems:
        return Item("invariants", "ok", "capture, guard and event triggers, capture functions and the kit's "
                    "privileges are intact (pgaudit_kit.invariant_problems() is empty)")
    return Item("invariants", "critical",
                f"{count_noun(len(problems), 'problem')}: "
                + "; ".join(p["problem"] for p in problems[:5]) + ("; ..." if len(problems) > 5 else ""),
                "Capture or the kit's guards are weakened now: writes may go unrecorded. Past the DDL guards "
                "only a superuser gets here, or a role that may INSERT into the kit's tables (kit_table_writers: "
                "a forged maintenance window). Find who (server log, pgaudit-kit log), repair with "
                "pgaudit-kit enable TABLE / pgaudit-kit install, then run verify --full and reconcile.",
                {"problems": problems})


def check_kit_functions(f: Facts) -> Item:
    drift = f.function_drift
    if not drift:
        return Item("kit_functions", "ok", "the kit's functions are exactly what its revision shipped (source, "
                    "security, settings, owner, grantees)")
    return Item("kit_functions", "critical",
                f"{count_noun(len(drift), 'function')} not as shipped: " + "; ".join(drift[:5])
                + ("; ..." if len(drift) > 5 else ""),
                "A kit function was replaced, altered or added behind the kit's back: only a superuser (or, past "
                "the DDL guards, a forged maintenance window) can do this, and capture or its checks may be lying. "
                "Keep the evidence: run pgaudit-kit verify --full; pgaudit-kit install --overwrite-drift records "
                "each function's source before it puts the shipped ones back.",
                {"drift": drift})


def check_event_triggers(f: Facts) -> Item:
    bad = {name: state for name, state in f.event_triggers.items() if state != "A"}
    if not bad:
        return Item("event_triggers", "ok", f"the kit's {len(f.event_triggers)} event triggers are enabled ALWAYS",
                    details={"event_triggers": f.event_triggers})
    described = [f"{name} is {'missing' if state is None else f'not enabled ALWAYS (state {state})'}"
                 for name, state in bad.items()]
    return Item("event_triggers", "critical", "; ".join(described),
                "While an event trigger is off, DDL that disables or drops capture is neither refused nor "
                "recorded. PostgreSQL runs no event trigger for ALTER EVENT TRIGGER, so a superuser did this "
                "unrecorded: find who in the server log. Re-enable with ALTER EVENT TRIGGER name ENABLE ALWAYS "
                "(or pgaudit-kit install), then run verify --full and reconcile.",
                {"event_triggers": f.event_triggers})
