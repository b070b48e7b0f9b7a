"""Query shapes whose plans do not depend on the size of the log.

A page of a listing is "the newest (or oldest) 50 events that match". PostgreSQL has two ways to get it: read
the log in event-id order (the primary key of each partition) and filter until the page is full, or find the
matching events through a selective index and sort them. Which is cheaper depends on where the matches lie,
and the planner cannot know that: it assumes they are spread evenly. Where they are not (a rarely seen actor
whose transactions are a month old; the last hour of a log read oldest first), reading in id order walks the
whole log, and the cost grows with it (602 ms instead of 26 on 2M events in bench/RESULTS.md). So the review
commands decide themselves, from what they can count cheaply in the same snapshot:

* ``--actor`` / ``--context``: the matching transactions are read first, through the transaction indexes.
  If there are at most :data:`XID_LIST_LIMIT`, the events are sought by those transaction ids
  (``event_xid_id_idx``) and sorted; with more, the actor is common enough for the id-order read to fill a
  page quickly, and the planner's join is kept.
* ``--since`` / ``--until``: the events in the window are counted through the time index
  (``event_relid_time_brin``, bitmap scans only), stopping past :data:`WINDOW_SORT_LIMIT`. A small window is read
  through that index and sorted; a large one in id order (its newest or oldest events are then close to
  where the read starts, unless the window lies in the middle of a long log: see docs/OPERATIONS.md).

The server-side cursor every listing reads through is planned for its total cost (``cursor_tuple_fraction
= 1``, :func:`plan_for_whole_result`), not for the first 10% of its rows: a page carries its own LIMIT, and
a history or an export is read to the end anyway.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from .query import Conditions, EventFilter, ResolvedTable, filter_conditions, time_conditions, transaction_conditions

# Transactions sought one by one: a lookup in each partition's event_xid_id_idx for each. On 10M events in 11
# partitions (bench/RESULTS.md, "Review at scale"), 1,700 transactions took 41-52 ms this way, and an actor
# with 2,600 took 99 ms through the join (reading the log newest first until 51 of its events), which gets
# faster as the actor gets commoner; the two cross at about 3,000.
XID_LIST_LIMIT = 3000
WINDOW_SORT_LIMIT = 50_000  # events of a time window sorted rather than read in id order
_BITMAP_ONLY = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan")


def plan_for_whole_result(conn: psycopg.Connection[Any]) -> None:
    """Plan the cursors of this transaction for all of their rows (PostgreSQL's default, 0.1, favours plans
    that start fast: for `history`, a walk of the log in id order that filters every event)."""
    conn.execute("SELECT pg_catalog.set_config('cursor_tuple_fraction', '1', true)")


def matching_transactions(conn: psycopg.Connection[Any], flt: EventFilter) -> list[str] | None:
    """The ids of the transactions matching *flt*'s --actor and --context (as text), or None when the filter
    has neither or more than XID_LIST_LIMIT transactions match."""
    if not flt.actors and not flt.context:
        return None
    cond = transaction_conditions(flt)
    rows = conn.execute(sql.SQL("SELECT t.xid::text FROM pgaudit_kit.transaction t") + cond.where()
                        + sql.SQL(" LIMIT %s"), [*cond.params, XID_LIST_LIMIT + 1]).fetchall()
    return None if len(rows) > XID_LIST_LIMIT else [str(r[0]) for r in rows]


@contextmanager
def _bitmap_scans_only(conn: psycopg.Connection[Any]) -> Iterator[None]:
    previous = [conn.execute("SELECT pg_catalog.current_setting(%s)", (name,)).fetchone() for name in _BITMAP_ONLY]
    for name in _BITMAP_ONLY:
        conn.execute("SELECT pg_catalog.set_config(%s, 'off', true)", (name,))
    try:
        yield
    finally:
        for name, value in zip(_BITMAP_ONLY, previous, strict=True):
            conn.execute("SELECT pg_catalog.set_config(%s, %s, true)", (name, value[0] if value else "on"))


def small_window(conn: psycopg.Connection[Any], flt: EventFilter) -> bool:
    """Whether *flt*'s time window (--since, --until) holds at most WINDOW_SORT_LIMIT recorded events. Counted
    through the time index only, so a small window costs the pages it spans and a large one stops early."""
    if not flt.since and not flt.until:
        return False
    cond = time_conditions(flt)
    with _bitmap_scans_only(conn):
        row = conn.execute(sql.SQL("SELECT count(*) FROM (SELECT FROM pgaudit_kit.event e") + cond.where()
                           + sql.SQL(" LIMIT %s) w"), [*cond.params, WINDOW_SORT_LIMIT + 1]).fetchone()
    return row is not None and int(row[0]) <= WINDOW_SORT_LIMIT


def page_conditions(conn: psycopg.Connection[Any], flt: EventFilter, tables: Sequence[ResolvedTable],
                    limit: int) -> tuple[Conditions, bool]:
    """The conditions of a page of *flt* of at most *limit* events (0: all), and whether the page is taken by
    sorting (see above). A whole listing is read to its end whichever way: its time window is not counted."""
    xids = matching_transactions(conn, flt)
    return filter_conditions(flt, tables, xids), xids is not None or (limit > 0 and small_window(conn, flt))

