"""The review commands' queries use their selective index whatever the size of the log (issue 19, item 1).

On a log large enough for the planner to prefer reading the log in id order (240,000 events over 8
partitions; the same shapes were measured on 2M and 10M in bench/RESULTS.md), each command runs through the
library calls the CLI makes, with a hostile session setting (``cursor_tuple_fraction = 0.001``: plan every
cursor for its first rows); the cursor it declared is then EXPLAINed as it was planned, in the same
transaction and settings. A plan passes when it reads no partition of the event table (nor the transaction
table) whole: no sequential scan of a non-empty one, no index scan without an index condition (a walk of the
log in id order), and it uses the index that selects the events asked for. Keys, transactions and request ids
are taken at the start, the middle and the end of the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgaudit_kit.core import signing
from pgaudit_kit.log import proofs, sealing
from pgaudit_kit.pg import db
from pgaudit_kit.review import events as review_events
from pgaudit_kit.review import history, watch
from pgaudit_kit.review.query import EventFilter, parse_context, parse_pk
from pgaudit_kit.review.timeparse import TimeBound, parse_time
from tests.support import large_log
from tests.support.cluster import TEMPLATE_INSTALLED, Cluster

EVENTS = 240_000
PLACES = ("start", "middle", "end")


@pytest.fixture(scope="module")
def big_log(cluster: Cluster) -> Iterator[str]:
    name = cluster.create_database(TEMPLATE_INSTALLED)
    dsn = cluster.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        large_log.generate(conn, EVENTS, partition_events=30_000, tables=4, rows_per_table=5_000)
    yield dsn
    cluster.drop_database(name)


@pytest.fixture
def conn(big_log: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(big_log) as connection:
        connection.execute("SET cursor_tuple_fraction = 0.001")  # the commands must not depend on it
        connection.commit()
        yield connection


@pytest.fixture
def cursors(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """The plans of the cursors the review code declares, EXPLAINed after each was read."""
    plans: list[list[dict[str, Any]]] = []
    real = review_events.stream

    def explained(conn: psycopg.Connection[Any], query: sql.Composed, params: Any, *args: Any,
                  **kwargs: Any) -> Iterator[list[review_events.Event]]:
        try:
            yield from real(conn, query, params, *args, **kwargs)
        finally:  # also when the reader stopped early (a page is full): the transaction is still open
            row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) DECLARE plan_check CURSOR FOR ") + query,
                               params).fetchone()
            assert row is not None
            plans.append(row[0])

    for module in (review_events, history, watch):
        monkeypatch.setattr(module, "stream", explained)
    return plans


# -- reading plans -------------------------------------------------------------------------------------
def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _pages(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute("SELECT c.relname, c.relpages FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'pgaudit_kit' AND c.relkind = 'r'").fetchall()
    return {str(name): int(pages) for name, pages in rows}


# Where the events of a time window are joined with their transactions, a whole read of the transaction table
# (hash join) is the cheaper plan while it is small, as here (60,000 rows for 240,000 events), and the index
# the cheaper one at scale; both read the events through the time index, which is what those tests check.
EVENTS_ONLY = ("event_",)
WATCHED = ("event_", "transaction", "block")


def whole_reads(conn: psycopg.Connection[Any], plan: list[dict[str, Any]], watched: tuple[str, ...] = WATCHED) -> list[str]:
    """Scans in *plan* that read a *watched* table (an event partition, the transaction table, the blocks) whole."""
    pages = _pages(conn)
    found = []
    for node in _nodes(plan[0]["Plan"]):
        relation = node.get("Relation Name", "")
        if not any(relation == w or (w.endswith("_") and relation.startswith(w)) for w in watched):
            continue
        kind = node["Node Type"]
        if kind == "Seq Scan" and pages.get(relation, 0) > 8:
            found.append(f"Seq Scan on {relation} ({pages[relation]} pages)")
        if kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node:
            found.append(f"{kind} of {relation} in {node['Index Name']} order, without a condition")
    return found


def indexes_used(plan: list[dict[str, Any]]) -> set[str]:
    """Index names in *plan*, without their partition prefix (event_p3_row_idx -> row_idx)."""
    names = set()
    for node in _nodes(plan[0]["Plan"]):
        name = node.get("Index Name")
        if name:
            names.add(name.split("_", 2)[2] if name.startswith("event_") else name)
    return names


def check(conn: psycopg.Connection[Any], plans: list[list[dict[str, Any]]], index: str,
          watched: tuple[str, ...] = WATCHED) -> None:
    assert plans, "the command declared no cursor"
    for plan in plans:
        assert whole_reads(conn, plan, watched) == []
        assert index in indexes_used(plan), indexes_used(plan)
    plans.clear()
    conn.rollback()


# -- what to look up -----------------------------------------------------------------------------------
@pytest.fixture
def samples(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str, int, str]]:
    """(table, key, xid, request id) of a keyed event at the start, the middle and the end of the log."""
    found = {place: large_log.keyed_event_at(conn, fraction)
             for place, fraction in zip(PLACES, (0.005, 0.5, 0.995), strict=True)}
    conn.rollback()
    return found


def _read(conn: psycopg.Connection[Any], chunks: Callable[[], Any]) -> int:
    db.begin_consistent_read(conn)
    count = sum(len(chunk) for chunk in chunks())
    conn.rollback()
    return count


def _page(conn: psycopg.Connection[Any], flt: EventFilter, order: str = "newest") -> int:
    return _read(conn, lambda: review_events.EventPage(conn, flt, review_events.Page(order=order, limit=50)))


def _instant(conn: psycopg.Connection[Any], text: str) -> TimeBound:
    """A time in the log: 'first + 1h' etc., as an absolute bound."""
    row = conn.execute("SELECT min(statement_ts), max(statement_ts) FROM pgaudit_kit.event").fetchone()
    conn.rollback()
    assert row is not None
    first, last = row
    base = {"first": first, "middle": first + (last - first) / 2, "last": last}[text.split()[0]]
    hours = float(text.split()[1]) if " " in text else 0.0
    return TimeBound(text=text, instant=base + timedelta(hours=hours))


# -- the tests -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("place", PLACES)
def test_history_reads_only_the_rows_events(conn: psycopg.Connection[Any], cursors: list[Any],
                                            samples: dict[str, Any], place: str) -> None:
    table, key, _, _ = samples[place]
    assert _read(conn, lambda: history.RowHistory(conn, table, parse_pk(key))) >= 1
    check(conn, cursors, "row_idx")
    db.begin_consistent_read(conn)
    found = history.as_of(conn, table, parse_pk(key), parse_time("1s", "--as-of"))
    conn.rollback()
    assert found.state in ("exists", "deleted")
    check(conn, cursors, "row_idx")


@pytest.mark.parametrize("place", PLACES)
def test_log_pk_tx_and_context_use_their_index(conn: psycopg.Connection[Any], cursors: list[Any],
                                               samples: dict[str, Any], place: str) -> None:
    table, key, xid, request = samples[place]
    assert _page(conn, EventFilter(tables=(table,), pk=parse_pk(key))) >= 1
    check(conn, cursors, "row_idx")
    assert _page(conn, EventFilter(tables=(table,), pk=parse_pk(key), ops=frozenset("U"),
                                   since=_instant(conn, "first"))) >= 0
    check(conn, cursors, "row_idx")
    assert _read(conn, lambda: review_events.transaction_events(conn, xid)) >= 1
    check(conn, cursors, "xid_id_idx")
    assert _page(conn, EventFilter(context=(parse_context(f"request_id={request}"),))) >= 1
    check(conn, cursors, "xid_id_idx")
    assert _page(conn, EventFilter(context=(parse_context(f"request_id={request}"),), tables=(table,),
                                   actors=("app", "batch", "postgres"))) >= 0
    check(conn, cursors, "xid_id_idx")


def test_a_rare_actor_is_found_through_its_transactions(conn: psycopg.Connection[Any], cursors: list[Any]) -> None:
    rows = conn.execute("SELECT actor, min(xid::text::int8), max(xid::text::int8) FROM pgaudit_kit.transaction "
                        "WHERE actor IS NOT NULL GROUP BY 1 ORDER BY count(*), 1 LIMIT 3").fetchall()
    conn.rollback()
    for actor, _, _ in rows:
        assert _page(conn, EventFilter(actors=(actor,))) >= 1
        check(conn, cursors, "xid_id_idx")
        for since in ("last -24", "middle", "first"):
            _page(conn, EventFilter(actors=(actor,), since=_instant(conn, since)))
            check(conn, cursors, "xid_id_idx")
        _page(conn, EventFilter(actors=(actor,), tables=("public.t01",), until=_instant(conn, "middle")), "oldest")
        check(conn, cursors, "xid_id_idx")


@pytest.mark.parametrize(("window", "order"), [
    (("last -1", None), "newest"), (("last -1", None), "oldest"),  # the end of the log
    ((None, "first 1"), "newest"), ((None, "first 1"), "oldest"),  # the start
    (("middle", "middle 2"), "newest"), (("middle", "middle 2"), "oldest"),  # the middle
])
def test_a_time_window_is_read_through_the_time_index(conn: psycopg.Connection[Any], cursors: list[Any],
                                                      window: tuple[str | None, str | None], order: str) -> None:
    since = _instant(conn, window[0]) if window[0] else None
    until = _instant(conn, window[1]) if window[1] else None
    assert _page(conn, EventFilter(since=since, until=until), order) == 50
    check(conn, cursors, "relid_time_brin", EVENTS_ONLY)
    assert _page(conn, EventFilter(since=since, until=until, tables=("public.t02",)), order) == 50
    check(conn, cursors, "relid_time_brin", EVENTS_ONLY)
    assert _page(conn, EventFilter(since=since, until=until, changed=("status",)), order) == 50
    check(conn, cursors, "relid_time_brin", EVENTS_ONLY)


def test_watch_catches_up_through_the_time_index(conn: psycopg.Connection[Any], cursors: list[Any],
                                                 big_log: str) -> None:
    seen: list[int] = []
    options = watch.WatchOptions(once=True, limit=0)
    since = _instant(conn, "last -1")
    hostile = "-c cursor_tuple_fraction=0.001"
    watcher = watch.Watcher(lambda: psycopg.connect(big_log, autocommit=True, options=hostile),
                            EventFilter(since=since), options,
                            lambda event: seen.append(event.id), lambda note: None)
    watcher.run()
    assert len(seen) > 50
    assert seen == sorted(seen)
    check(conn, cursors, "relid_time_brin", EVENTS_ONLY)


def test_prove_looks_the_event_and_its_block_up(conn: psycopg.Connection[Any], big_log: str,
                                                samples: dict[str, Any], tmp_path: Any) -> None:
    with psycopg.connect(big_log, autocommit=True) as admin:
        sealing.checkpoint(admin, signing.generate("plans"), None)
        ids = [int(r[0]) for r in admin.execute("SELECT id FROM pgaudit_kit.event ORDER BY id OFFSET %s LIMIT 1",
                                                (EVENTS // 2,)).fetchall()]
    statements: list[tuple[Any, Any]] = []

    class Recording:
        """The connection, recording the statements prove runs on it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(conn, name)

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            statements.append((query, params))
            return conn.execute(query, params, **kwargs)

    proof = proofs.prove_inclusion(Recording(), ids[0])  # type: ignore[arg-type]
    assert proof["event"] and proof["seq"] >= 0
    looked_up = [(q, p) for q, p in statements
                 if isinstance(q, str) and q.lstrip().upper().startswith("SELECT")
                 and ("pgaudit_kit.event " in q or "pgaudit_kit.block " in q)]
    assert len(looked_up) >= 2
    for query, params in looked_up:
        row = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
        assert row is not None
        assert whole_reads(conn, row[0]) == [], query
        assert indexes_used(row[0]) & {"pkey", "block_position_idx", "block_pkey", "ddl_control_idx"}, query
    conn.rollback()
