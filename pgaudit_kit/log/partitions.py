"""The partitions of the event table (pgaudit_kit.event, partitioned by ranges of id): which exist, and creating
the next ones ahead of the identity (pgaudit_kit.add_event_partitions), as `seal`, the follower and
`pgaudit-kit partitions` do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..pg import db

# Ids step by this much per event (a chunk of a many-row statement numbers up to this many events from one id).
IDS_PER_EVENT = 1024


@dataclass(frozen=True)
class Partition:
    name: str
    lower_id: int | None  # None: from MINVALUE (the first)
    upper_id: int | None  # exclusive; None: to MAXVALUE (event_overflow)
    is_overflow: bool
    events: int           # the planner's estimate (pg_class.reltuples; 0 before the first ANALYZE)
    bytes: int            # pg_total_relation_size: heap, indexes and TOAST
    heap_bytes: int       # pg_relation_size: 0 while no event was ever written to it

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "lower_id": self.lower_id, "upper_id": self.upper_id, "overflow": self.is_overflow,
                "events_estimate": self.events, "bytes": self.bytes}


def listed(conn: psycopg.Connection[Any]) -> list[Partition]:
    """The partitions in order of their ranges, event_overflow (up to MAXVALUE) last; none before schema
    revision 0013 (the event table was not partitioned)."""
    if not db.has_kit_relation(conn, "event_overflow"):
        return []
    with db.translated_errors():
        rows = conn.execute(
            "SELECT p.name, p.lower_id, p.upper_id, p.is_overflow, GREATEST(c.reltuples, 0)::bigint, "
            "       pg_catalog.pg_total_relation_size(p.partition), pg_catalog.pg_relation_size(p.partition) "
            "  FROM pgaudit_kit.event_partitions() p JOIN pg_catalog.pg_class c ON c.oid = p.partition").fetchall()
    return [Partition(*row) for row in rows]


def add_ahead(conn: psycopg.Connection[Any], width_events: int | None = None, ahead: int = 2) -> int:
    """Create partitions until *ahead* empty ones lie beyond the next id, each *width_events* events wide (None:
    as wide as the newest). Returns how many were created. Raises KitError when a lock is not granted within 100 ms
    (a writer or reader holding the event table: creating one detaches and re-attaches event_overflow under an
    ACCESS EXCLUSIVE lock): nothing is created then, and the next call tries again."""
    width = None if width_events is None else width_events * IDS_PER_EVENT
    with db.translated_errors(), conn.transaction():
        row = conn.execute("SELECT pgaudit_kit.add_event_partitions(%s, %s)", (width, ahead)).fetchone()
    return int(row[0]) if row else 0


def may_create(conn: psycopg.Connection[Any]) -> bool:
    """Whether this role may create partitions (the admin role may; the reader role may only list them)."""
    with db.translated_errors():
        row = conn.execute("SELECT has_function_privilege('pgaudit_kit.add_event_partitions(bigint, integer)', "
                           "'EXECUTE')").fetchone()
    return row == (True,)
