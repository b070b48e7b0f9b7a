"""Checks of the audit log's upkeep: lockdown, the unsealed backlog, the newest checkpoint and the last
verify. Backlog, checkpoint and verify are judged against :class:`Thresholds`."""

from __future__ import annotations

from typing import Any

from .facts import Facts
from .items import Item
from .thresholds import Thresholds
from .wording import count_noun, format_age, join_names


def check_lockdown(f: Facts) -> Item:
    state = f.lockdown
    details = {**state.as_dict(), "unrecorded": f.lockdown_unrecorded}
    if f.lockdown_unrecorded:
        forged = [f"#{r['id']} {'lockdown' if r['locked'] else 'unlock'} at {r['acted_at']} ({r['reason']!r})"
                  for r in f.lockdown_unrecorded]
        return Item("lockdown", "critical",
                    f"{'locked down' if state.locked else 'not locked down'}, but the lockdown state was changed "
                    "without the kit's function (no control event recorded it): " + "; ".join(forged),
                    "Someone who may INSERT into pgaudit_kit.lockdown_event (see kit_table_writers, superusers) "
                    "locked or unlocked behind the kit's back. Treat it as tampering: run verify --full and "
                    "reconcile, and lock down again with pgaudit-kit lockdown if needed.", details)
    if state.locked:
        age = f" ({format_age(f.lockdown_age)} ago)" if f.lockdown_age is not None else ""
        return Item("lockdown", "warning",
                    f"audited writes are locked down since {state.acted_at}{age} by {state.acted_by}: {state.reason}",
                    "Investigate (verify --full, reconcile, pgaudit-kit log), then lift it: pgaudit-kit unlock "
                    "--reason TEXT.", details)
    if state.acted_at is None:
        return Item("lockdown", "ok", "not locked down (never was)", details=details)
    return Item("lockdown", "ok", f"not locked down (last unlocked {state.acted_at} by {state.acted_by})",
                details=details)


def check_backlog(f: Facts, t: Thresholds) -> Item:
    b = f.backlog
    details = {"unsealed_events": b.count, "oldest_unsealed_age_seconds": b.age_seconds, "tree_size": b.tree_size,
               "max_backlog_age_seconds": t.max_backlog_age}
    if not b.count or b.age_seconds is None:
        return Item("backlog", "ok", f"every event is sealed (log size {b.tree_size})", details=details)
    summary = f"{count_noun(b.count, 'event')} not yet sealed, the oldest {format_age(b.age_seconds)} old"
    if b.age_seconds > t.max_backlog_age:
        return Item("backlog", "warning", f"{summary} (more than {format_age(t.max_backlog_age)})",
                    "Unsealed events are not yet protected by the hash chain. A long-running transaction holds "
                    "sealing back (see pg_stat_activity); otherwise run pgaudit-kit seal from cron.", details)
    return Item("backlog", "ok", summary, details=details)


def check_last_checkpoint(f: Facts, t: Thresholds) -> Item:
    cp = f.newest_checkpoint
    details = {"checkpoint": None if cp is None else {k: cp[k] for k in ("id", "tree_size", "created_at",
                                                                        "created_by", "age_seconds")},
               "tree_size": f.backlog.tree_size, "max_checkpoint_age_seconds": t.max_checkpoint_age}
    advice = ("Schedule pgaudit-kit checkpoint --key KEY --anchor-dir DIR (e.g. every 10 minutes): only history "
              "covered by a checkpoint kept outside the database is protected against a superuser who rewrites "
              "it and recomputes the hashes.")
    if cp is None:
        if f.backlog.tree_size == 0 and not f.backlog.count:
            return Item("last_checkpoint", "info", "no checkpoint yet, and no history to checkpoint", advice, details)
        return Item("last_checkpoint", "warning", "no checkpoint has ever been made", advice, details)
    summary = (f"newest checkpoint #{cp['id']} (log size {cp['tree_size']} of {f.backlog.tree_size}) is "
               f"{format_age(cp['age_seconds'])} old")
    if cp["age_seconds"] > t.max_checkpoint_age:
        return Item("last_checkpoint", "warning", f"{summary} (more than {format_age(t.max_checkpoint_age)})",
                    advice, details)
    return Item("last_checkpoint", "ok", summary, details=details)


def check_last_verify(f: Facts, t: Thresholds) -> Item:
    last, clean = f.last_verify, f.last_clean_verify
    details = {"last": last, "last_clean": clean, "max_verify_age_seconds": t.max_verify_age}
    advice = ("Schedule pgaudit-kit verify --anchor-dir DIR --public-key PUB --state FILE (and --full daily) from a "
              "machine other than the database server. The outcome is self-reported by the verifying role (any "
              "reader can record one): trust the verifier's own exit code and state file, not this entry.")
    if last is None:
        return Item("last_verify", "warning", "verify has never recorded an outcome", advice, details)

    def who(entry: dict[str, Any]) -> str:
        role = entry["session_role"] or "?"
        if entry["acting_role"] and entry["acting_role"] != entry["session_role"]:
            role += f" as {entry['acting_role']}"
        return f"recorded {format_age(entry['age_seconds'])} ago by {role}"

    if not last["clean"]:
        counts = (last["outcome"] or {}).get("finding_counts") or {}
        since = f"; last clean verify {who(clean)}" if clean else "; no clean verify on record"
        return Item("last_verify", "critical",
                    f"the newest verify found problems ({join_names(f'{k}: {v}' for k, v in sorted(counts.items()))}), "
                    f"{who(last)}{since}",
                    "Run pgaudit-kit verify --full (with --anchor-dir, --public-key) to see each finding; consider "
                    "pgaudit-kit lockdown while investigating. " + advice, details)
    assert clean is not None
    summary = f"last clean verify ({(clean['outcome'] or {}).get('mode', '?')}) {who(clean)}"
    if clean["age_seconds"] > t.max_verify_age:
        return Item("last_verify", "warning", f"{summary} (more than {format_age(t.max_verify_age)})", advice, details)
    return Item("last_verify", "ok", summary, "Self-reported by the verifying role.", details)


def check_partitions(f: Facts) -> Item:
    """Partitions of the event table ahead of the newest events (a partition that was never written to has no
    heap pages), and events that outran them into event_overflow (every id above them, to MAXVALUE)."""
    parts = f.event_partitions
    if not parts:
        return Item("partitions", "info", "the event table is not partitioned (schema revision before 0013)",
                    "Upgrade with pgaudit-kit install: retiring history then drops whole partitions.")
    ranged = [p for p in parts if not p.is_overflow]
    used = [i for i, p in enumerate(ranged) if p.heap_bytes > 0]
    ahead = len(ranged) - 1 - used[-1] if used else len(ranged) - 1
    overflow = [p for p in parts if p.is_overflow and p.heap_bytes > 0]
    details = {"partitions": [p.as_dict() for p in parts], "ahead": ahead}
    summary = f"{count_noun(len(ranged), 'partition')} of the event table, {ahead} ahead of the newest events"
    advice = ("Run pgaudit-kit partitions (or keep seal --follow or a seal from cron running: each creates them; a "
              "long transaction on the event table makes them give up, see pg_stat_activity). The next one makes "
              "event_overflow, with the events in it, a partition of its own.")
    if overflow:
        return Item("partitions", "warning", f"{summary}; event_overflow holds events (about "
                    f"{overflow[0].events:,}): they outran the partitions", advice, details)
    if ahead < 1:
        return Item("partitions", "warning", f"{summary}: the next events may go to event_overflow", advice, details)
    return Item("partitions", "ok", summary, details=details)
