"""verify recomputes leaves over several connections sharing one snapshot, and checks clean blocks in
one comparison each: it must read exactly what one connection reads, and name exactly the findings that
checking every event one by one names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
import pytest

from pgaudit_kit.log import leaf_reader, sealing
from pgaudit_kit.log.event_stream import EventStream, Page
from pgaudit_kit.pg import db
from pgaudit_kit.pg.db import connector
from pgaudit_kit.verify.runner import read_blocks, verify
from pgaudit_kit.verify.verification import Findings, Position, check_log
from tests.support.helpers import enable, guards_off, with_params

Conn = psycopg.Connection[Any]


@pytest.fixture
def history(kit_db: str) -> Iterator[Conn]:
    """Eight transactions of three events, sealed in blocks of at most two events (blocks 1, 3, 5 ... hold
    two), so that with chunks of one event every block boundary is a cut: the chunks alternate between
    two readers."""
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)")
        enable(conn, "accounts")
        for i in range(8):
            with conn.transaction():
                conn.execute("SELECT set_config('pgaudit_kit.actor', %s, true)", (f"actor-{i}",))
                conn.execute("INSERT INTO accounts SELECT g, 'o', %s FROM generate_series(%s::int, %s::int) g",
                             (i, 10 * i, 10 * i + 2))
            with conn.transaction(force_rollback=True):  # leaves a gap in the event ids
                conn.execute("INSERT INTO accounts VALUES (%s, 'gap', 0)", (10 * i + 5,))
            sealing.seal(conn, batch=2)
        yield conn


def _workers_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened: list[int] = []
    original = db.snapshot_readers

    def spy(*args: Any) -> list[Conn]:
        connections = original(*args)
        opened.append(len(connections))
        return connections

    monkeypatch.setattr(db, "snapshot_readers", spy)
    return opened


def _read_all(dsn: str, jobs: int, chunk: int) -> list[tuple[int, int, bytes]]:
    with db.connect(dsn) as conn:
        snapshot = db.begin_shared_read(conn)
        conn.execute("SET LOCAL search_path = pg_catalog")
        return _rows(leaf_reader.read_leaves(conn, connector(dsn), snapshot, (0, 0), -1, jobs, chunk))


def _rows(pages: Iterable[Page]) -> list[tuple[int, int, bytes]]:
    return [(x, i, leaves[32 * k:32 * k + 32])
            for xids, ids, leaves in pages for k, (x, i) in enumerate(zip(xids, ids, strict=True))]


def _stored_leaves(conn: Conn) -> list[tuple[int, int, bytes]]:
    """What the kit's own encoding gives for every event, for comparison."""
    rows = conn.execute("SELECT e.xid::text::int8, e.id, sha256('\\x00'::bytea || pgaudit_kit.event_leaf_input(e, t)) "
                        "FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid "
                        "ORDER BY e.xid, e.id").fetchall()
    return [(int(x), int(i), bytes(leaf)) for x, i, leaf in rows]


def test_parallel_readers_read_what_one_reads_in_the_same_snapshot(
        history: Conn, kit_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _workers_used(monkeypatch)
    one = _read_all(kit_db, jobs=1, chunk=1)
    assert opened == []  # one job: the verifying connection reads
    two = _read_all(kit_db, jobs=2, chunk=1)
    assert opened == [2]
    assert two == one == _stored_leaves(history) and len(one) == len({row[1] for row in one}) >= 24
    monkeypatch.setattr(leaf_reader, "PAGE", 2)  # pages of two events, chunks of several pages
    assert _read_all(kit_db, jobs=2, chunk=5) == one
    assert _read_all(kit_db, jobs=1, chunk=5) == one
    assert opened == [2, 2]

    # The readers see the verifying transaction's snapshot, not what was committed after it began.
    with db.connect(kit_db) as conn:
        snapshot = db.begin_shared_read(conn)
        assert snapshot is not None
        conn.execute("SET LOCAL search_path = pg_catalog")
        history.execute("INSERT INTO accounts VALUES (999, 'later', 0)")
        later = _rows(leaf_reader.read_leaves(conn, connector(kit_db), snapshot, (0, 0), -1, 2, 1))
    assert opened == [2, 2, 2]
    assert later == one


def test_pages_end_after_every_event_at_their_last_position(
        history: Conn, kit_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions (xid, id) are unique while the primary key holds; without it, a copy of an event at a
    page's last position must still be read (the next page starts after that position)."""
    with guards_off(history):
        history.execute("ALTER TABLE pgaudit_kit.event DROP CONSTRAINT event_pkey")
        history.execute("INSERT INTO pgaudit_kit.event OVERRIDING SYSTEM VALUE SELECT * FROM pgaudit_kit.event "
                        "WHERE id = (SELECT id FROM pgaudit_kit.event ORDER BY xid, id OFFSET 3 LIMIT 1)")
    monkeypatch.setattr(leaf_reader, "PAGE", 2)
    expected = _stored_leaves(history)
    assert len(expected) == len({row[1] for row in expected}) + 1
    assert _read_all(kit_db, jobs=1, chunk=5) == expected


TAMPER = {
    "clean": [],
    "row_data": ["UPDATE pgaudit_kit.event SET row_data = row_data || '{\"balance\": \"7\"}' "
                 "WHERE id = (SELECT event_ids[1] FROM pgaudit_kit.block WHERE block_no = 3)"],
    "actor": ["UPDATE pgaudit_kit.transaction SET actor = 'mallory' WHERE actor = 'actor-3'"],
    "deleted": ["DELETE FROM pgaudit_kit.event WHERE id = (SELECT event_ids[2] FROM pgaudit_kit.block "
                "WHERE block_no = 5)"],
    "forged_in_gap": ["INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, pk, "
                      "row_data) OVERRIDING SYSTEM VALUE SELECT id + 1, xid, statement_ts, op, relid, schema_name, "
                      "table_name, pk, row_data FROM pgaudit_kit.event WHERE id = (SELECT max(e.id) FROM "
                      "pgaudit_kit.event e JOIN pgaudit_kit.transaction t USING (xid) WHERE t.actor = 'actor-4')"],
    "forged_after_last_block": [
        "INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, pk, row_data) "
        "OVERRIDING SYSTEM VALUE SELECT (SELECT max(id) + 1 FROM pgaudit_kit.event), last_xid, now(), 'I', "
        "'accounts'::regclass, 'public', 'accounts', '{}', '{}' FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1",
        "SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), (SELECT max(id) FROM pgaudit_kit.event))"],
    "block_deleted": ["DELETE FROM pgaudit_kit.block WHERE block_no = 4"],
    "leaves_swapped": ["UPDATE pgaudit_kit.block SET leaves = substr(leaves, 33, 32) || substr(leaves, 1, 32) "
                       "|| substr(leaves, 65) WHERE block_no = 7"],
    "event_ids_swapped": ["UPDATE pgaudit_kit.block SET event_ids = ARRAY[event_ids[2], event_ids[1]] WHERE block_no = 9"],
}


def _check_thrice(dsn: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """check_log in one snapshot: on one connection, on two readers with a chunk per block, and on one
    connection again with every block checked event by event (no block taken in one comparison)."""
    outcomes: list[tuple[Any, ...]] = []
    taken: list[bool] = []
    take_block = EventStream.take_block

    def spy(self: EventStream, *args: Any) -> bool:
        taken.append(take_block(self, *args))
        return taken[-1]

    monkeypatch.setattr(EventStream, "take_block", spy)
    with db.connect(dsn) as conn:
        snapshot = db.begin_shared_read(conn)
        conn.execute("SET LOCAL search_path = pg_catalog")
        for jobs in (1, 2, 1):
            if len(outcomes) == 2:
                monkeypatch.setattr(EventStream, "take_block", lambda *args: False)
            findings = Findings()
            leaves = leaf_reader.read_leaves(conn, connector(dsn), snapshot, (0, 0), -1, jobs, chunk=1)
            result = check_log(read_blocks(conn, -1), leaves, Position(), findings)
            outcomes.append(([f.as_dict() for f in findings.items], dict(findings.counts), result.roots,
                             result.events_checked, result.blocks_checked, result.unsealed_events,
                             result.end.to_json()))
    assert any(taken) and len(taken) == 2 * outcomes[0][4]  # blocks checked, each run
    return outcomes


@pytest.mark.parametrize("attack", sorted(TAMPER))
def test_parallel_verify_names_the_same_findings(history: Conn, kit_db: str, attack: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with guards_off(history):
        for statement in TAMPER[attack]:
            history.execute(statement)
    history.execute("INSERT INTO accounts VALUES (1000, 'unsealed', 0)")  # not sealed: counted, not a finding
    opened = _workers_used(monkeypatch)
    one, two, careful = _check_thrice(kit_db, monkeypatch)
    assert opened == [2]
    assert two == one == careful
    findings, _, _, _, _, unsealed, _ = one
    assert bool(findings) == (attack != "clean") and unsealed >= 1, findings
    # and verify itself, run in parallel, names them
    monkeypatch.undo()
    opened = _workers_used(monkeypatch)
    monkeypatch.setattr(leaf_reader, "CHUNK", 1)
    report = verify(connector(kit_db), full=True, jobs=2)
    assert opened == [2]
    assert {f.kind for f in report.findings.items if not f.kind.startswith("coverage_")} >= \
        {f["kind"] for f in findings}


@pytest.mark.parametrize("jobs", [1, 2])
def test_verify_reads_utf8_whatever_the_client_encoding(history: Conn, kit_db: str, jobs: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """verify's leaf SQL gives UTF-8 only with client_encoding UTF8: it sets that itself on every
    connection that reads, whatever the DSN or PGCLIENTENCODING ask for."""
    with history.transaction():
        history.execute("SELECT set_config('pgaudit_kit.actor', 'zoë', true)")
        history.execute("INSERT INTO accounts VALUES (500, 'Grüße', 1)")
    sealing.seal(history, batch=2)
    monkeypatch.setattr(leaf_reader, "CHUNK", 1)
    report = verify(connector(with_params(kit_db, client_encoding="LATIN1")), full=True, jobs=jobs)
    assert [f.kind for f in report.findings.items if not f.kind.startswith("coverage_")] == []
    assert report.events_checked == report.tree_size > 24
