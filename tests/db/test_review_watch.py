"""`pgaudit-kit watch`, run as a real subprocess: follows new events with the log filters, woken by
LISTEN/NOTIFY; resumes exactly after the last event it printed across a server restart (in the middle of
a large batch) and across its own restart with --state; notifications are sent only while someone watches."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest

from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable
from tests.support.processes import KitProcess

Conn = psycopg.Connection[Any]


class WatchProcess(KitProcess):
    """`python -m pgaudit_kit watch ...` with its stdout read line by line (pausable) and stderr kept."""

    def __init__(self, dsn: str, *args: str) -> None:
        super().__init__(dsn, "watch", *args, stdout=subprocess.PIPE)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reading = threading.Event()
        self.reading.set()
        assert self.proc.stdout is not None
        threading.Thread(target=self._read_stdout, args=(self.proc.stdout,), daemon=True).start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        while True:
            self.reading.wait()
            line = stream.readline()
            if not line:
                return
            self.lines.put(json.loads(line))

    def take(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(events) < count:
            try:
                events.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"watch printed {len(events)} of {count} events; stderr: {''.join(self.stderr)}")
        return events

    def nothing_more(self, wait: float = 1.5) -> None:
        time.sleep(wait)
        extra = []
        while not self.lines.empty():
            extra.append(self.lines.get())
        assert extra == [], f"unexpected extra events: {[e['id'] for e in extra]}"

def insert_rows(dsn: str, table: str, ids: range, *, one_transaction: bool = False) -> None:
    with psycopg.connect(dsn, autocommit=not one_transaction) as conn:
        if one_transaction:
            conn.execute(f"INSERT INTO {table} SELECT g, 'bulk' FROM generate_series(%s::int, %s::int) g",
                         (ids.start, ids.stop - 1))
        else:
            for i in ids:
                conn.execute(f"INSERT INTO {table} VALUES (%s, 'row')", (i,))


def event_ids(dsn: str, table: str, op: str = "I") -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [int(r[0]) for r in conn.execute(
            "SELECT id FROM pgaudit_kit.recorded_event WHERE relid = %s::regclass AND op = %s ORDER BY id",
            (table, op))]


@pytest.fixture
def tables(kit_conn: Conn) -> Conn:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    enable(kit_conn, "u")
    return kit_conn


def test_watch_follows_new_events_with_filters(kit_db: str, tables: Conn) -> None:
    tables.execute("INSERT INTO t VALUES (0, 'before the watch')")
    watch = WatchProcess(kit_db, "--table", "public.t", "--op", "I,U", "--actor", "alice", "--limit", "3")
    try:
        watch.wait_for_note("following new events")
        for statement, actor in (("INSERT INTO t VALUES (1, 'a')", "alice"), ("INSERT INTO u VALUES (1, 'a')", "alice"),
                                 ("INSERT INTO t VALUES (2, 'b')", "bob"), ("UPDATE t SET v = 'c' WHERE id = 1", "alice"),
                                 ("DELETE FROM t WHERE id = 1", "alice"), ("INSERT INTO t VALUES (3, 'd')", "alice")):
            with tables.transaction():
                tables.execute("SELECT set_config('pgaudit_kit.actor', %s, true)", (actor,))
                tables.execute(statement)
        events = watch.take(3, timeout=30)
        assert [(e["op"], e["pk"], e["actor"], e["table"]) for e in events] == [
            ("I", {"id": "1"}, "alice", "t"), ("U", {"id": "1"}, "alice", "t"), ("I", {"id": "3"}, "alice", "t")]
        assert events[1]["old"]["v"] == "a" and events[1]["new"]["v"] == "c"
        assert all(set(e) >= {"id", "xid", "time", "seal", "context"} for e in events)
        assert watch.proc.wait(timeout=30) == 0  # --limit reached
    finally:
        watch.stop()
    with psycopg.connect(kit_db) as conn:
        row = conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' ORDER BY id LIMIT 1").fetchone()
    assert row is not None and row[0] == {"command": "watch", "filter": {"table": ["public.t"], "op": "IU",
                                                                         "actor": ["alice"]}}


def test_watch_resumes_exactly_after_a_server_restart(cluster: Cluster, kit_db: str, tables: Conn) -> None:
    if cluster.server is None:
        pytest.fail("this test restarts the server: it needs the suite's own (unset PGAUDIT_KIT_TEST_DSN)")
    watch = WatchProcess(kit_db, "--table", "public.t", "--op", "I", "--heartbeat", "2")
    try:
        watch.wait_for_note("following new events")
        insert_rows(kit_db, "t", range(1, 4))
        first = watch.take(3)
        # Stop reading: the watch blocks on a full pipe in the middle of printing one large transaction.
        watch.reading.clear()
        insert_rows(kit_db, "t", range(100, 3100), one_transaction=True)
        insert_rows(kit_db, "t", range(4, 9))
        time.sleep(2)
        tables.close()
        cluster.server.restart()
        insert_rows(kit_db, "t", range(9, 15))  # committed while the watch may still be disconnected
        watch.reading.set()
        expected = event_ids(kit_db, "t")
        rest = watch.take(len(expected) - len(first), timeout=120)
        got = [e["id"] for e in first + rest]
        assert got == expected  # every event once, in order: nothing lost, nothing repeated
        watch.wait_for_note("reconnected; resuming")
        insert_rows(kit_db, "t", range(15, 17))  # and it goes on following
        assert [e["pk"]["id"] for e in watch.take(2)] == ["15", "16"]
        watch.nothing_more()
        notes = "".join(watch.stderr)
        assert "connection lost" in notes
        kept = int(notes.split("position kept after event ")[1].split(")")[0])
        bulk = [e["id"] for e in first + rest if 100 <= int(e["pk"]["id"]) < 3100]
        assert bulk[0] <= kept < bulk[-1], "the restart should cut the large transaction's output in the middle"
    finally:
        watch.stop()
    with psycopg.connect(kit_db) as conn:
        reviews = conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' AND row_data->>'command' = 'watch' "
                               "ORDER BY id").fetchall()
    assert len(reviews) >= 2 and "resumed_after" in reviews[-1][0]["filter"]  # the reconnect is a review too


def test_watch_state_file_resumes_a_new_process(kit_db: str, tables: Conn, tmp_path: Path) -> None:
    state = tmp_path / "watch.state"
    watch = WatchProcess(kit_db, "--table", "t", "--state", str(state), "--limit", "2")
    try:
        watch.wait_for_note("following new events")
        insert_rows(kit_db, "t", range(1, 3))
        assert [e["pk"]["id"] for e in watch.take(2)] == ["1", "2"]
        assert watch.proc.wait(timeout=30) == 0
    finally:
        watch.stop()
    saved = json.loads(state.read_text())
    assert saved["format"] == "pgaudit-kit-watch-state/1" and saved["after_id"] > 0
    insert_rows(kit_db, "t", range(3, 6))  # while nobody watches
    again = WatchProcess(kit_db, "--table", "t", "--state", str(state), "--limit", "4")
    try:
        again.wait_for_note("resumed from the state file")
        assert [e["pk"]["id"] for e in again.take(3)] == ["3", "4", "5"]
        insert_rows(kit_db, "t", range(6, 7))
        assert [e["pk"]["id"] for e in again.take(1)] == ["6"]
        assert again.proc.wait(timeout=30) == 0
    finally:
        again.stop()
    state.write_text("{not a state")
    broken = subprocess.run([sys.executable, "-m", "pgaudit_kit", "--dsn", kit_db, "watch", "--state", str(state)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert broken.returncode == 2 and "not a watch state file" in broken.stderr


def test_watch_since_prints_recent_history_first(kit_db: str, tables: Conn) -> None:
    insert_rows(kit_db, "t", range(1, 4))
    watch = WatchProcess(kit_db, "--table", "t", "--op", "I", "--since", "1h", "--limit", "5")
    try:
        assert [e["pk"]["id"] for e in watch.take(3)] == ["1", "2", "3"]
        watch.wait_for_note("following new events")
        insert_rows(kit_db, "t", range(4, 6))
        assert [e["pk"]["id"] for e in watch.take(2)] == ["4", "5"]
        assert watch.proc.wait(timeout=30) == 0
    finally:
        watch.stop()


def test_notifications_only_while_a_watch_lease_is_valid(kit_db: str, tables: Conn) -> None:
    with psycopg.connect(kit_db, autocommit=True) as listener:
        listener.execute("LISTEN pgaudit_kit_events")
        tables.execute("INSERT INTO t VALUES (1, 'nobody watches')")
        assert list(listener.notifies(timeout=0.5)) == []
        assert tables.execute("SELECT pgaudit_kit.renew_watch_lease(30)").fetchone() == (True,)
        with tables.transaction():
            tables.execute("INSERT INTO t VALUES (2, 'watched')")
            tables.execute("INSERT INTO u VALUES (2, 'same transaction')")
        received = list(listener.notifies(timeout=2, stop_after=1))
        assert [(n.channel, n.payload) for n in received] == [("pgaudit_kit_events", "")]
        assert list(listener.notifies(timeout=0.5)) == []  # one per transaction, not per event
        for i in range(3, 53):  # committers notify at most every 100 ms in all (NOTIFY serialises commits)
            tables.execute("INSERT INTO t VALUES (%s, 'burst')", (i,))
        assert len(list(listener.notifies(timeout=1))) < 50
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            tables.execute("SELECT pgaudit_kit.renew_watch_lease(0)")


def test_a_table_that_is_not_there_is_an_error_before_following(kit_db: str, tables: Conn) -> None:
    result = cli("watch", "--table", "public.nosuch", "--limit", "1", dsn=kit_db)
    assert result.exit_code == 2
    assert result.stderr == ("pgaudit-kit: error: --table 'public.nosuch': no such table is enrolled or has "
                             "recorded history\n")
