"""A doctor run: record the review, read the facts in one snapshot, judge every item in report order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from ..core.errors import UsageError
from ..pg import db, reviews
from .checks_files import check_anchor_dir, check_key_file
from .checks_kit import check_event_triggers, check_invariants, check_kit_functions, check_kit_installed
from .checks_log import check_backlog, check_last_checkpoint, check_last_verify, check_lockdown, check_partitions
from .checks_roles import (
    check_bypassrls,
    check_createrole,
    check_kit_roles,
    check_kit_table_writers,
    check_redaction_key_readers,
    check_superusers,
    check_table_owners,
)
from .checks_settings import (
    check_event_trigger_control,
    check_log_connections,
    check_log_disconnections,
    check_log_statement,
)
from .facts import Facts, read_facts
from .items import ITEM_IDS, Item, Report
from .thresholds import Thresholds

FACT_CHECKS: tuple[Callable[[Facts], Item], ...] = (
    check_kit_installed, check_invariants, check_kit_functions, check_event_triggers, check_event_trigger_control,
    check_superusers, check_createrole, check_kit_roles, check_kit_table_writers, check_redaction_key_readers,
    check_table_owners, check_bypassrls, check_log_statement, check_log_connections, check_log_disconnections,
    check_lockdown, check_partitions,
)
TIMED_CHECKS: tuple[Callable[[Facts, Thresholds], Item], ...] = (
    check_backlog, check_last_checkpoint, check_last_verify,
)


def judge(facts: Facts, thresholds: Thresholds, anchor_dir: Path | None, key_path: Path | None,
          accept: Iterable[str] = ()) -> list[Item]:
    """Every item, in report order. An item named in *accept* that is a warning becomes info (accepted);
    a critical item is never downgraded."""
    items = [check(facts) for check in FACT_CHECKS] + [check(facts, thresholds) for check in TIMED_CHECKS]
    items.append(check_anchor_dir(anchor_dir, facts.origin, facts.newest_checkpoint, facts.backlog.tree_size))
    items.append(check_key_file(key_path, facts.newest_checkpoint))
    accepted = set(accept)
    return [replace(i, severity="info", accepted=True) if i.id in accepted and i.severity == "warning" else i
            for i in items]


def run(conn: psycopg.Connection[Any], *, anchor_dir: Path | None = None, key_path: Path | None = None,
        thresholds: Thresholds | None = None, accept: Sequence[str] = ()) -> Report:
    """Record the review, read the facts in one snapshot, judge them. Raises KitError for environment problems
    (cannot connect, kit not installed, no kit role, standby)."""
    thresholds = thresholds or Thresholds()
    unknown = sorted(set(accept) - set(ITEM_IDS))
    if unknown:
        raise UsageError(f"unknown doctor item {', '.join(unknown)} (items: {', '.join(ITEM_IDS)})")
    filters = {"anchor_dir": str(anchor_dir) if anchor_dir else None, "key": str(key_path) if key_path else None,
               "accept": sorted(accept), **thresholds.as_dict()}
    with db.translated_errors(), reviews.reviewed_read(conn, "doctor", filters):
        conn.execute("SET LOCAL search_path = pg_catalog")  # the queries must mean the built-ins
        facts = read_facts(conn)
    items = judge(facts, thresholds, anchor_dir, key_path, accept)
    return Report(facts.database, facts.server_version, facts.origin, thresholds, items)
