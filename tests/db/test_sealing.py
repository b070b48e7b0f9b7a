"""Sealing: gapless, in (xid, id) order, final below the xid horizon, piggy-backed without waiting;
keys and checkpoints; the seal command and the backlog in status."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgaudit_kit.core import merkle, signing
from tests.support import reference_agreement
from tests.support.helpers import cli, enable, run_with_stderr_on_a_terminal

Conn = psycopg.Connection[Any]


def _sealed_ids(conn: Conn) -> list[int]:
    return [int(i) for (ids,) in conn.execute("SELECT event_ids FROM pgaudit_kit.block ORDER BY block_no") for i in ids]


def _seal(conn: Conn) -> int:
    row = conn.execute("SELECT pgaudit_kit.seal()").fetchone()
    return int(row[0]) if row else -1


@pytest.fixture
def audited(kit_conn: Conn) -> Conn:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    return kit_conn


def test_log_is_gapless_in_xid_order_and_blocks_chain(audited: Conn) -> None:
    for i in range(5):
        audited.execute("INSERT INTO t SELECT g, 'v' FROM generate_series(%s::int, %s::int) g", (i * 10, i * 10 + 9))
        _seal(audited)
    expected = [int(r[0]) for r in audited.execute("SELECT id FROM pgaudit_kit.event ORDER BY xid, id")]
    sealed = _sealed_ids(audited)
    # everything up to the last seal is sealed, in order, once
    assert sealed == expected[:len(sealed)] and len(sealed) >= 50
    blocks = audited.execute(
        "SELECT block_no, first_seq, tree_size, prev_hash, block_hash, root, leaves FROM pgaudit_kit.block ORDER BY block_no"
    ).fetchall()
    frontier = merkle.Frontier()
    for n, (block_no, first_seq, tree_size, prev_hash, _hash, root, leaves) in enumerate(blocks):
        assert block_no == n and first_seq == frontier.size
        assert prev_hash == (blocks[n - 1][4] if n else None)
        for i in range(0, len(leaves), 32):
            frontier.append(bytes(leaves[i:i + 32]))
        assert frontier.size == tree_size and frontier.root() == bytes(root)


def test_blocks_of_every_size_append_to_the_tree_as_rfc9162_does(audited: Conn) -> None:
    """seal() appends a level of the tree at a time (revision 0005); batches of 1 to 17 leaves and a few
    larger ones, on trees of every size up to 300, give the frontier, root and leaves the Python Merkle
    code computes, and the stored leaves are the hashes of the events' canonical encodings."""
    audited.execute("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 300) g")
    while _seal(audited):
        pass
    sizes = [*range(1, 18), 31, 32, 33, 64, 1]
    frontier = merkle.Frontier()
    for (leaves,) in audited.execute("SELECT leaves FROM pgaudit_kit.block ORDER BY block_no"):
        for i in range(0, len(leaves), 32):
            frontier.append(bytes(leaves[i:i + 32]))
    audited.execute("INSERT INTO t SELECT g, 'w' || g FROM generate_series(1001, 1000 + %s) g", (sum(sizes),))
    for size in sizes:
        assert audited.execute("SELECT pgaudit_kit.seal(%s)", (size,)).fetchone() == (size,)
        block = audited.execute(
            "SELECT tree_size, root, frontier, leaves, event_ids FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1"
        ).fetchone()
        assert block is not None
        tree_size, root, stored_frontier, leaves, ids = block
        recomputed = [bytes(r[0]) for r in audited.execute(
            """SELECT sha256('\\x00'::bytea || pgaudit_kit.event_leaf_input(e, t)) FROM pgaudit_kit.event e
               LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid WHERE e.id = ANY (%s) ORDER BY e.xid, e.id""",
            (ids,))]
        assert b"".join(recomputed) == bytes(leaves) and len(recomputed) == size
        for leaf in recomputed:
            frontier.append(leaf)
        assert tree_size == frontier.size
        assert bytes(root) == frontier.root(), f"root differs after a block of {size} at tree size {tree_size}"
        assert [bytes(f) for f in stored_frontier] == frontier.peaks, f"frontier differs at tree size {tree_size}"


def test_a_long_transaction_delays_sealing_but_never_reorders(audited: Conn, kit_db: str) -> None:
    _seal(audited)
    with psycopg.connect(kit_db) as long_tx:
        long_tx.execute("INSERT INTO t VALUES (1000, 'early xid, committed late')")
        long_id = int(long_tx.execute("SELECT max(id) FROM pgaudit_kit.event").fetchone()[0])  # type: ignore[index]
        audited.execute("INSERT INTO t VALUES (1001, 'later xid, committed first')")
        later_id = int(audited.execute("SELECT max(id) FROM pgaudit_kit.event").fetchone()[0])  # type: ignore[index]
        _seal(audited)
        assert later_id not in _sealed_ids(audited), "sealed past a running transaction"
        long_tx.commit()
    _seal(audited)
    sealed = _sealed_ids(audited)
    assert sealed.index(long_id) < sealed.index(later_id)


def test_sealing_piggybacks_on_commit(audited: Conn) -> None:
    audited.execute("INSERT INTO t VALUES (1, 'a')")
    time.sleep(0.3)  # piggy-backed sealing runs at most every 200 ms
    audited.execute("INSERT INTO t VALUES (2, 'b')")
    first = int(audited.execute("SELECT min(id) FROM pgaudit_kit.event WHERE op = 'I'").fetchone()[0])  # type: ignore[index]
    assert first in _sealed_ids(audited)


def test_repeatable_read_and_serializable_writers_do_not_seal(audited: Conn) -> None:
    audited.execute("INSERT INTO t VALUES (1, 'a')")
    time.sleep(0.3)
    before = audited.execute("SELECT count(*) FROM pgaudit_kit.block").fetchone()
    for level in ("REPEATABLE READ", "SERIALIZABLE"):
        with audited.transaction():
            audited.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
            audited.execute("INSERT INTO t VALUES (%s, 'rr')", (len(level),))
    assert audited.execute("SELECT count(*) FROM pgaudit_kit.block").fetchone() == before


def test_writers_seal_at_most_every_200_ms_and_only_under_read_committed(audited: Conn) -> None:
    def state() -> tuple[int, int]:
        row = audited.execute("SELECT (SELECT count(*) FROM pgaudit_kit.block), "
                              "(SELECT last_value FROM pgaudit_kit.last_sealed)").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    # a block sealed a moment ago (here: dated a minute ahead, so that a slow machine cannot outlast it): no
    # writer seals, and no writer's commit queues the trigger that would
    audited.execute("SELECT setval('pgaudit_kit.last_sealed', "
                    "(extract(epoch FROM clock_timestamp()) * 1000)::bigint + 60000)")
    before = state()
    audited.execute("INSERT INTO t VALUES (1, 'a')")
    assert state() == before
    # none for long: a REPEATABLE READ writer still does not seal, the next READ COMMITTED writer does
    audited.execute("SELECT setval('pgaudit_kit.last_sealed', 0)")
    with audited.transaction():
        audited.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        audited.execute("INSERT INTO t VALUES (2, 'b')")
    assert state() == (before[0], 0)
    started_ms = time.time() * 1000
    audited.execute("INSERT INTO t VALUES (3, 'c')")
    blocks, sealed_ms = state()
    assert blocks == before[0] + 1 and started_ms - 1000 < sealed_ms < time.time() * 1000 + 1000
    sealed_at = audited.execute("SELECT (extract(epoch FROM sealed_at) * 1000)::bigint FROM pgaudit_kit.block "
                                "ORDER BY block_no DESC LIMIT 1").fetchone()
    assert sealed_at is not None and abs(sealed_at[0] - sealed_ms) <= 1
    # it sealed everything before it (its own events wait for the next seal: they were not committed yet)
    assert audited.execute("SELECT array_agg(e.pk->>'id') FROM pgaudit_kit.event e WHERE e.op = 'I' AND NOT EXISTS "
                           "(SELECT FROM pgaudit_kit.block b WHERE e.id = ANY (b.event_ids))").fetchone() == (["3"],)


def test_a_writer_never_waits_for_a_sealer(audited: Conn, kit_db: str) -> None:
    audited.execute("INSERT INTO t VALUES (1, 'a')")
    time.sleep(0.3)
    with psycopg.connect(kit_db) as sealer:
        sealer.execute("SELECT pg_advisory_xact_lock(1885823850)")  # another session is sealing
        audited.execute("SET statement_timeout = '2s'")
        started = time.monotonic()
        audited.execute("INSERT INTO t VALUES (2, 'b')")  # commits without waiting for the lock
        assert time.monotonic() - started < 1.5
        sealer.rollback()
    audited.execute("RESET statement_timeout")


def test_seal_command_and_status_backlog(audited: Conn, kit_db: str) -> None:
    audited.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 30) g")
    report = json.loads(cli("status", "--format", "json", dsn=kit_db).stdout)
    assert report["sealed_log"]["unsealed_events"] >= 30
    result = cli("seal", dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    assert "sealed" in result.stdout
    report = json.loads(cli("status", "--format", "json", dsn=kit_db).stdout)
    total = audited.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
    assert report["sealed_log"]["unsealed_events"] == 0
    assert report["sealed_log"]["tree_size"] == (total[0] if total else -1)


def test_seal_shows_progress_on_a_terminal_and_nothing_in_a_pipe(audited: Conn, kit_db: str) -> None:
    assert cli("seal", dsn=kit_db).exit_code == 0
    size = len(_sealed_ids(audited))
    audited.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 25000) g")  # three blocks of 10,000
    done, terminal = run_with_stderr_on_a_terminal("--dsn", kit_db, "seal")
    assert done.returncode == 0, terminal
    assert done.stdout == f"sealed 25000 events; log size {size + 25000}; 0 events not yet sealable\n"
    assert "\rsealed 10,000 of about 25,000 events (" in terminal
    assert terminal.endswith("\r\x1b[K")  # erased before the result is printed
    audited.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(25001, 50000) g")
    piped = subprocess.run([sys.executable, "-m", "pgaudit_kit", "--dsn", kit_db, "seal"], capture_output=True,
                           text=True, timeout=120, check=False)
    assert (piped.returncode, piped.stderr) == (0, "")
    assert piped.stdout == f"sealed 25000 events; log size {size + 50000}; 0 events not yet sealable\n"


def test_keygen_checkpoint_and_key_file_rules(audited: Conn, kit_db: str, tmp_path: Path) -> None:
    prefix = tmp_path / "shop"
    assert cli("keygen", "--name", "shop-audit", "--out", str(prefix)).exit_code == 0
    private, public = tmp_path / "shop.key", tmp_path / "shop.pub"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    again = cli("keygen", "--out", str(prefix))
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr
    audited.execute("INSERT INTO t VALUES (1, 'a')")
    result = cli("checkpoint", "--key", str(private), "--anchor-dir", str(tmp_path / "anchors"), "--format", "json",
                 dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    body = signing.open_note(out["note"], signing.read_public_key(public))
    origin, size, root = body.splitlines()
    assert origin == out["origin"] and origin.startswith("pgaudit-kit/") and int(size) == out["tree_size"]
    row = audited.execute("SELECT tree_size, root, note FROM pgaudit_kit.checkpoint").fetchone()
    assert row is not None and row[0] == int(size) and bytes(row[2]).decode() == out["note"]  # stored as its UTF-8 bytes
    anchored = Path(out["anchored_at"])
    assert anchored.read_text() == out["note"] and not os.access(anchored, os.W_OK) or os.geteuid() == 0
    assert stat.S_IMODE(os.stat(anchored).st_mode) == 0o444
    os.chmod(private, 0o640)
    refused = cli("checkpoint", "--key", str(private), dsn=kit_db)
    assert refused.exit_code == 2 and "chmod 600" in refused.stderr


def test_large_transactions_span_blocks_and_cannot_gain_events(audited: Conn, kit_db: str) -> None:
    audited.execute("INSERT INTO t SELECT g, 'bulk' FROM generate_series(1, 25) g")
    _seal(audited)  # seal what came before (enrolment)
    audited.execute("INSERT INTO t SELECT g, 'bulk' FROM generate_series(101, 125) g")
    bulk_xid = audited.execute("SELECT xid::text FROM pgaudit_kit.transaction ORDER BY xid DESC LIMIT 1").fetchone()
    assert bulk_xid is not None
    first = audited.execute("SELECT pgaudit_kit.seal(10)").fetchone()
    assert first == (10,)
    block = audited.execute("SELECT last_xid::text, last_xid_events, last_xid_sealed FROM pgaudit_kit.block "
                            "ORDER BY block_no DESC LIMIT 1").fetchone()
    assert block == (bulk_xid[0], 25, 10)
    # a superuser slips one more event into the half-sealed transaction
    audited.execute("""INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, pk,
                       row_data) OVERRIDING SYSTEM VALUE SELECT max(id) + 1, %s::xid8, now(), 'I', 't'::regclass, 'public',
                       't', '{"id": "999"}', '{"id": "999", "v": "forged"}' FROM pgaudit_kit.event""", (bulk_xid[0],))
    forged = audited.execute("SELECT max(id) FROM pgaudit_kit.event").fetchone()
    assert forged is not None
    # and moves the id sequence past it, or the next event recorded (verify's review) would collide with it
    audited.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", forged)
    while _seal(audited):
        pass
    sealed = _sealed_ids(audited)
    assert forged is not None and forged[0] not in sealed
    assert audited.execute("SELECT last_xid_sealed FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1"
                           ).fetchone() == (25,)
    reference = reference_agreement.reference_report(kit_db, None, None)
    report = json.loads(cli("verify", "--full", "--format", "json", dsn=kit_db).stdout)
    assert [(f["kind"], f["event_id"]) for f in report["findings"]] == [("event_inserted", forged[0])]
    reference_agreement.assert_agrees(reference, report)


LEASE = "SELECT pg_sequence_last_value('pgaudit_kit.seal_lease') > extract(epoch FROM now())"


def test_writers_leave_sealing_to_a_follower_while_its_lease_is_valid(audited: Conn, kit_db: str) -> None:
    assert "sealed by:          writers at their commit" in cli("status", dsn=kit_db).stdout
    audited.execute("SELECT pgaudit_kit.renew_seal_lease(60)")
    assert audited.execute(LEASE).fetchone() == (True,)
    assert json.loads(cli("status", "--format", "json", dsn=kit_db).stdout)["sealed_log"]["follower_lease_until"]
    assert "sealed by:          a follower (seal --follow), lease until" in cli("status", dsn=kit_db).stdout
    for i in range(3):
        audited.execute("INSERT INTO t VALUES (%s, 'a')", (i,))
        time.sleep(0.25)  # past the 200 ms between piggy-backed seals
    assert audited.execute("SELECT count(*) FROM pgaudit_kit.block").fetchone() == (0,)
    audited.execute("SELECT pgaudit_kit.renew_seal_lease(0)")  # given back: the next writer seals
    assert audited.execute(LEASE).fetchone() == (False,)
    assert json.loads(cli("status", "--format", "json", dsn=kit_db).stdout)["sealed_log"]["follower_lease_until"] is None
    audited.execute("INSERT INTO t VALUES (9, 'b')")
    assert len(_sealed_ids(audited)) >= 3
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        audited.execute("SELECT pgaudit_kit.renew_seal_lease(3601)")


WATCH_LEASE = "SELECT pg_sequence_last_value('pgaudit_kit.watch_lease') > extract(epoch FROM now())"


@contextmanager
def _follower(kit_db: str, interval: str) -> Iterator[subprocess.Popen[str]]:
    """`seal --follow` in a process of its own, killed on the way out if a test left it running."""
    process = subprocess.Popen([sys.executable, "-m", "pgaudit_kit", "--dsn", kit_db, "seal", "--follow",
                                "--interval", interval], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _wait_until(condition: Callable[[], bool], deadline: float, failure: str, every: float = 0.05) -> None:
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(every)


def test_an_idle_follower_is_woken_by_the_next_commit_and_stops_at_once(audited: Conn, kit_db: str) -> None:
    assert cli("seal", dsn=kit_db).exit_code == 0  # nothing left: its first round finds nothing and it idles
    # an interval far longer than the test: only the commit's notification can make it seal in time
    with _follower(kit_db, "300") as follower:
        deadline = time.monotonic() + 15
        _wait_until(lambda: audited.execute(WATCH_LEASE).fetchone() == (True,), deadline,
                    "the idle follower never took a watch lease")  # idle: it asked writers to notify it
        assert audited.execute(LEASE).fetchone() == (True,)
        size = len(_sealed_ids(audited)) + 1
        audited.execute("INSERT INTO t VALUES (1, 'a')")
        _wait_until(lambda: len(_sealed_ids(audited)) >= size, deadline, "the commit did not wake the follower")
        stopped_at = time.monotonic()
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=10)
        assert time.monotonic() - stopped_at < 5, "an idle follower must not sleep out its interval on SIGTERM"
    assert follower.returncode == 0, err
    assert out.splitlines()[-1] == f"stopped: sealed 1 events; log size {size}; 0 events not yet sealable"
    assert audited.execute(LEASE).fetchone() == (False,)


def test_a_follower_killed_mid_backlog_resumes_with_nothing_lost_or_sealed_twice(audited: Conn, kit_db: str) -> None:
    assert cli("seal", dsn=kit_db).exit_code == 0
    before = len(_sealed_ids(audited))
    audited.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 60000) g")  # six blocks of 10,000
    deadline = time.monotonic() + 60
    with _follower(kit_db, "0.1") as first:
        # killed once it has sealed a block, before the backlog is done
        _wait_until(lambda: len(_sealed_ids(audited)) > before, deadline, "the follower sealed nothing", every=0.01)
        first.kill()  # no clean stop: the lease stays until it runs out, a block may have been half written
        first.communicate(timeout=10)
    with _follower(kit_db, "0.1") as second:
        _wait_until(lambda: len(_sealed_ids(audited)) >= before + 60000, deadline,
                    "the restarted follower did not finish the backlog")
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    ids = _sealed_ids(audited)
    assert len(ids) == len(set(ids)) == before + 60000  # every event once
    recorded = audited.execute("SELECT array_agg(id ORDER BY xid, id) FROM pgaudit_kit.event").fetchone()[0]  # type: ignore[index]
    assert ids == recorded  # in recording order, none left out
    report = cli("verify", "--full", "--format", "json", dsn=kit_db)
    assert report.exit_code == 0, report.output


def test_seal_follow_seals_while_running_and_gives_the_lease_back_when_stopped(audited: Conn, kit_db: str) -> None:
    with _follower(kit_db, "0.1") as follower:
        deadline = time.monotonic() + 10
        _wait_until(lambda: audited.execute(LEASE).fetchone() == (True,), deadline,
                    "the follower never took the seal lease")
        audited.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 50) g")
        audited.execute("INSERT INTO t VALUES (51, 'y')")  # a second writer commit: it must not seal itself
        total = int(audited.execute("SELECT count(*) FROM pgaudit_kit.recorded_event").fetchone()[0])  # type: ignore[index]
        _wait_until(lambda: len(_sealed_ids(audited)) >= total, deadline, "the follower did not seal the new events")
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=10)
    assert follower.returncode == 0, err
    assert out.splitlines()[0].startswith("following: sealing every 0.1 s, at once on an idle database")
    assert out.splitlines()[-1] == f"stopped: sealed {total} events; log size {total}; 0 events not yet sealable"
    assert audited.execute(LEASE).fetchone() == (False,)
    assert cli("seal", "--interval", "1", dsn=kit_db).exit_code == 2  # --interval without --follow
