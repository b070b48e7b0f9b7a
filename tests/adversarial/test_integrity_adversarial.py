"""Attacks on the sealed log, carried out for real as a superuser would, and what `verify` must say.

Every test first builds a clean baseline (an enrolled table, a few transactions by named actors, two
signed and anchored checkpoints, a clean `verify --state` that writes the trusted state), checks that a
verification of it is clean (so each test can fail), then attacks the database (or its anchors) and
asserts that `verify` exits 1 with exactly the findings that name what was done: the kind, and the
event id / seq / block number / object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pgaudit_kit.core import anchors, signing
from tests.support import reference_agreement
from tests.support.cluster import TEMPLATE_INSTALLED, Cluster
from tests.support.helpers import cli, enable, guards_off

Conn = psycopg.Connection[Any]

# The identifying fields of a finding; `expected`/`calculated` are checked where they matter.
KEYS = ("kind", "seq", "event_id", "block_no", "object")


def ident(finding: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(finding.get(k) for k in KEYS)


def F(kind: str, *, seq: int | None = None, event_id: int | None = None, block_no: int | None = None,  # noqa: N802
      object: str | None = None) -> tuple[Any, ...]:
    return (kind, seq, event_id, block_no, object)


@dataclass
class Sealed:
    seq: int
    event_id: int
    block_no: int


@dataclass
class Audited:
    """A kit database with sealed, checkpointed, anchored and verified history."""

    cluster: Cluster
    dsn: str
    dbname: str
    conn: Conn
    tmp: Path
    key: Path
    pub: Path
    anchor_dir: Path
    state: Path
    notes: list[Path] = field(default_factory=list)  # anchored checkpoint files, oldest first
    table: str = "public.accounts"

    # -- running the CLI --------------------------------------------------------------------------
    def verify(self, *, anchors: bool = True, public_key: Path | None | bool = True, state: bool = True,
               full: bool = False, dsn: str | None = None) -> tuple[int, dict[str, Any]]:
        args = ["verify", "--format", "json"]
        if anchors:
            args += ["--anchor-dir", str(self.anchor_dir)]
        if public_key is True:
            args += ["--public-key", str(self.pub)]
        elif isinstance(public_key, Path):
            args += ["--public-key", str(public_key)]
        if state:
            args += ["--state", str(self.state)]
        if full:
            args.append("--full")
        key = self.pub if public_key is True else public_key if isinstance(public_key, Path) else None
        reference = reference_agreement.reference_report(dsn or self.dsn, key, self.anchor_dir if anchors else None)
        result = cli(*args, dsn=dsn or self.dsn)
        assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
        report: dict[str, Any] = json.loads(result.stdout)
        reference_agreement.assert_agrees(reference, report)
        return result.exit_code, report

    def checkpoint(self, key: Path | None = None) -> dict[str, Any]:
        """`checkpoint` into the anchor directory; with the audit key, the anchored file joins `notes`."""
        result = cli("checkpoint", "--key", str(key or self.key), "--anchor-dir", str(self.anchor_dir),
                     "--format", "json", dsn=self.dsn)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        out: dict[str, Any] = json.loads(result.stdout)
        if key is None:
            self.notes.append(Path(out["anchored_at"]))
        return out

    # -- writing audited history ------------------------------------------------------------------
    def write(self, actor: str, *statements: str, rollback: bool = False) -> None:
        with self.conn.transaction(force_rollback=rollback):
            self.conn.execute("SELECT set_config('pgaudit_kit.actor', %s, true)", (actor,))
            for statement in statements:
                self.conn.execute(statement)

    def seal(self) -> None:
        """Seal every committed event now, as cron's `seal` would. Sealing at commit is rate-limited (at most
        every 200 ms), so without this whether the review events a verification recorded are sealed yet
        depends on timing."""
        result = cli("seal", dsn=self.dsn)
        assert result.exit_code == 0, (result.stdout, result.stderr)

    # -- reading the sealed log -------------------------------------------------------------------
    def sealed(self) -> list[Sealed]:
        rows = self.conn.execute(
            """SELECT b.first_seq + u.i - 1, u.id, b.block_no
                 FROM pgaudit_kit.block b, unnest(b.event_ids) WITH ORDINALITY AS u(id, i)
                ORDER BY 1""").fetchall()
        return [Sealed(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def position(self, event_id: int) -> Sealed:
        (found,) = [s for s in self.sealed() if s.event_id == event_id]
        return found

    def events_of(self, actor: str) -> list[int]:
        """Ids of the events written by *actor*'s transaction, in id order."""
        return [int(r[0]) for r in self.conn.execute(
            "SELECT e.id FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t USING (xid) "
            "WHERE t.actor = %s ORDER BY e.id", (actor,)).fetchall()]

    def origin(self, dsn: str | None = None) -> str:
        from pgaudit_kit.log import sealing

        with psycopg.connect(dsn or self.dsn) as conn:
            return sealing.origin(conn)

    def tree_size(self) -> int:
        row = self.conn.execute("SELECT COALESCE(max(tree_size), 0) FROM pgaudit_kit.block").fetchone()
        assert row is not None
        return int(row[0])

    def relid(self) -> int:
        row = self.conn.execute("SELECT %s::regclass::oid::int8", (self.table,)).fetchone()
        assert row is not None
        return int(row[0])

    def reconnect(self) -> None:
        if not self.conn.closed:
            self.conn.close()
        self.conn = psycopg.connect(self.dsn, autocommit=True)


def findings(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [ident(f) for f in report["findings"]]


def assert_clean(audited: Audited, **kwargs: Any) -> None:
    code, report = audited.verify(**kwargs)
    assert (code, report["findings"]) == (0, []), json.dumps(report["findings"], indent=1)
    assert report["clean"] is True


def assert_findings(audited: Audited, expected: list[tuple[Any, ...]], **kwargs: Any) -> dict[str, Any]:
    """`verify` exits 1 with exactly *expected* (kind, seq, event_id, block_no, object), in report order."""
    code, report = audited.verify(**kwargs)
    assert findings(report) == expected, json.dumps(report["findings"], indent=1)
    assert code == 1 and report["clean"] is False
    return report


def build_history(audited: Audited) -> None:
    """Four committed transactions (alice, bob, carol; then dave after the first checkpoint) and one
    rolled back (its event ids stay unused: a gap inside sealed history)."""
    audited.write("alice", "INSERT INTO accounts VALUES (1, 'ada', 10), (2, 'bob', 20), (3, 'cy', 30)")
    audited.write("bob", "UPDATE accounts SET balance = balance + 5 WHERE id = 1", "DELETE FROM accounts WHERE id = 3")
    audited.write("eve", "INSERT INTO accounts SELECT g, 'x', 0 FROM generate_series(100, 104) g", rollback=True)
    audited.write("carol", "INSERT INTO accounts VALUES (4, 'di', 40)")
    audited.checkpoint()
    audited.write("dave", "UPDATE accounts SET owner = 'bo' WHERE id = 2", "INSERT INTO accounts VALUES (5, 'ed', 50)")
    audited.checkpoint()


@pytest.fixture
def audited(cluster: Cluster, kit_db: str, tmp_path: Path) -> Iterator[Audited]:
    conn = psycopg.connect(kit_db, autocommit=True)
    a = Audited(cluster, kit_db, str(conninfo_to_dict(kit_db)["dbname"]), conn, tmp_path,
                key=tmp_path / "audit.key", pub=tmp_path / "audit.pub", anchor_dir=tmp_path / "anchors",
                state=tmp_path / "audit.state")
    try:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)")
        enable(conn, "accounts")
        assert cli("keygen", "--name", "audit", "--out", str(tmp_path / "audit")).exit_code == 0
        build_history(a)
        # baseline: everything is sealed, checkpointed twice, anchored twice, and verifies clean
        assert len(a.notes) == 2 and all(p.is_file() for p in a.notes)
        blocks = a.conn.execute("SELECT count(*) FROM pgaudit_kit.block").fetchone()
        assert blocks is not None and blocks[0] >= 2
        size = a.tree_size()
        assert len(a.sealed()) == size > 0
        code, report = a.verify()
        assert (code, report["findings"], report["state_written"]) == (0, [], True), report
        assert report["anchored_checkpoints_checked"] == 2 and report["checkpoints_checked"] == 2
        # verify records its review (op R) before it reads: that event is the one not sealed yet
        assert report["unsealed_events"] == 1 and report["events_checked"] == report["tree_size"] == size
        assert a.state.exists()
        yield a
    finally:
        a.conn.close()


# ---------------------------------------------------------------------------------------------------
# 1-6: edits to sealed events and transactions


def test_changed_row_data_is_event_modified(audited: Audited) -> None:
    (target,) = audited.events_of("carol")
    assert_clean(audited, full=True)
    with guards_off(audited.conn):
        audited.conn.execute(
            "UPDATE pgaudit_kit.event SET row_data = jsonb_set(row_data, '{balance}', '\"4000\"') WHERE id = %s", (target,))
    pos = audited.position(target)
    report = assert_findings(audited, [F("event_modified", seq=pos.seq, event_id=target, block_no=pos.block_no)],
                             full=True)
    assert report["findings"][0]["expected"] != report["findings"][0]["calculated"]


def test_changed_actor_is_event_modified_for_each_event_of_the_transaction(audited: Audited) -> None:
    targets = audited.events_of("bob")
    assert len(targets) == 2
    assert_clean(audited, full=True)
    with guards_off(audited.conn):
        audited.conn.execute("UPDATE pgaudit_kit.transaction SET actor = 'mallory' WHERE actor = 'bob'")
    expected = [F("event_modified", seq=p.seq, event_id=p.event_id, block_no=p.block_no)
                for p in map(audited.position, targets)]
    assert_findings(audited, sorted(expected, key=lambda f: f[1]), full=True)


def test_deleted_event_is_event_missing(audited: Audited) -> None:
    target = audited.events_of("alice")[1]
    assert_clean(audited, full=True)
    pos = audited.position(target)
    with guards_off(audited.conn):
        audited.conn.execute("DELETE FROM pgaudit_kit.event WHERE id = %s", (target,))
    assert_findings(audited, [F("event_missing", seq=pos.seq, event_id=target, block_no=pos.block_no)], full=True)


def test_deleted_newest_events_are_event_missing(audited: Audited) -> None:
    dave = audited.events_of("dave")
    assert_clean(audited)
    # the newest sealed events: dave's transaction (the last block of business history) and the review
    # events of the verifications since, sealed after it
    tail = [s for s in audited.sealed() if s.seq >= audited.position(dave[0]).seq]
    assert [s.event_id for s in tail[:len(dave)]] == dave
    with guards_off(audited.conn):
        audited.conn.execute("DELETE FROM pgaudit_kit.event WHERE id = ANY(%s)", ([s.event_id for s in tail],))
    expected = [F("event_missing", seq=s.seq, event_id=s.event_id, block_no=s.block_no) for s in tail]
    assert_findings(audited, expected, full=True)


def test_cut_off_log_tail_is_caught_by_state_and_anchors(audited: Audited) -> None:
    """Delete the newest events together with the blocks that sealed them and the checkpoint that signed
    them: the database is consistent again, only the trusted state and the anchor can tell."""
    # Every verification appends its review events to the cut log, which grows back towards the signed
    # size: the newest transaction is large enough that it cannot catch up within this test.
    audited.write("frank", "INSERT INTO accounts SELECT g, 'fy', 0 FROM generate_series(10, 19) g")
    audited.checkpoint()
    assert_clean(audited)
    state = json.loads(audited.state.read_text())
    size_before, last_block = state["tree_size"], state["block_no"]
    assert size_before == int(audited.notes[2].name.split("-")[0])  # the checkpoint signed what was verified
    cut = audited.sealed()[audited.position(audited.events_of("frank")[0]).seq]
    first_cut = audited.sealed()[next(s.seq for s in audited.sealed() if s.block_no == cut.block_no)]
    with guards_off(audited.conn), audited.conn.transaction():
        xid = "(SELECT xid FROM pgaudit_kit.event WHERE id = %s)"
        audited.conn.execute(f"DELETE FROM pgaudit_kit.transaction WHERE xid >= {xid}", (first_cut.event_id,))
        audited.conn.execute(f"DELETE FROM pgaudit_kit.event WHERE xid >= {xid}", (first_cut.event_id,))
        audited.conn.execute("DELETE FROM pgaudit_kit.block WHERE block_no >= %s", (cut.block_no,))
        audited.conn.execute("DELETE FROM pgaudit_kit.checkpoint WHERE tree_size = %s", (size_before,))
    assert_clean(audited, anchors=False, state=False)  # self-consistent without the outside references
    audited.seal()  # the log is now the cut log plus that verification's two review events
    rollback = [
        F("state_rollback", seq=size_before - 1),
        F("checkpoint_beyond_log", seq=size_before - 1, object=str(audited.notes[2])),
        F("checkpoint_missing", object=str(audited.notes[2])),
    ]
    # the routine run from the trusted state also names the block where that state ended
    report = assert_findings(audited, [F("state_root", block_no=last_block), *rollback])
    assert report["tree_size"] == first_cut.seq + 2
    assert [(f["expected"], f["calculated"]) for f in report["findings"][1:3]] == \
        [(str(size_before), str(first_cut.seq + 2))] * 2
    assert_findings(audited, rollback, full=True)


def test_forged_event_inside_sealed_history_is_event_inserted(audited: Audited) -> None:
    bob, carol = audited.events_of("bob"), audited.events_of("carol")
    # the rolled-back transaction left unused ids between bob's and carol's events
    forged_id = carol[0] - 1
    assert forged_id > bob[-1]
    block_no = audited.position(bob[0]).block_no
    assert_clean(audited, full=True)
    audited.conn.execute(
        """INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, pk, row_data)
           OVERRIDING SYSTEM VALUE
           SELECT %s, xid, statement_ts, 'I', relid, schema_name, table_name, '{"id": "9"}', '{"id": "9", "owner": "zed", "balance": "999"}'
             FROM pgaudit_kit.event WHERE id = %s""", (forged_id, bob[0]))
    assert forged_id not in [s.event_id for s in audited.sealed()]
    assert_findings(audited, [F("event_inserted", event_id=forged_id, block_no=block_no)], full=True)


def test_forged_event_appended_to_the_newest_sealed_transaction_is_event_inserted(audited: Audited) -> None:
    """The same forgery, but with the xid of the newest sealed transaction and an id after every sealed
    id. That transaction committed before it was sealed, so it cannot have produced this event: it
    is forged, however unsealed it looks, and must stay a finding after the next seal."""
    assert_clean(audited, full=True)
    audited.seal()  # that verification's review events too: the newest sealed transaction is its last
    last = audited.sealed()[-1]
    row = audited.conn.execute("SELECT max(id) + 1 FROM pgaudit_kit.event").fetchone()
    assert row is not None
    forged_id = int(row[0])
    # a row of the audited table, filed under that (review) transaction; the id sequence is moved past the
    # forged id, as a careful forger would (the next event recorded would collide with it otherwise)
    audited.conn.execute(
        """INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, pk, row_data)
           OVERRIDING SYSTEM VALUE
           SELECT %s, (SELECT xid FROM pgaudit_kit.event WHERE id = %s), statement_ts, 'I', relid, schema_name,
                  table_name, '{"id": "9"}', '{"id": "9", "owner": "zed", "balance": "999"}'
             FROM pgaudit_kit.event WHERE id = %s""", (forged_id, last.event_id, audited.events_of("dave")[-1]))
    audited.conn.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", (forged_id,))
    assert_findings(audited, [F("event_inserted", event_id=forged_id, block_no=last.block_no)], full=True)
    # any commit (or cron's `seal`) would otherwise make it part of the signed history
    assert cli("seal", dsn=audited.dsn).exit_code == 0
    code, report = audited.verify(full=True)
    assert [(f["kind"], f.get("event_id")) for f in report["findings"]] == [("event_inserted", forged_id)], report
    assert code == 1


def test_swapped_row_data_is_event_modified_twice(audited: Audited) -> None:
    a, b = audited.events_of("alice")[0], audited.events_of("carol")[0]
    assert_clean(audited, full=True)
    with guards_off(audited.conn):
        audited.conn.execute(
            """UPDATE pgaudit_kit.event e SET row_data = o.row_data, pk = o.pk
                 FROM pgaudit_kit.event o WHERE (e.id, o.id) IN ((%s, %s), (%s, %s))""", (a, b, b, a))
    pa, pb = audited.position(a), audited.position(b)
    assert_findings(audited, [F("event_modified", seq=pa.seq, event_id=a, block_no=pa.block_no),
                              F("event_modified", seq=pb.seq, event_id=b, block_no=pb.block_no)], full=True)


# ---------------------------------------------------------------------------------------------------
# 7-10: the attacker makes the database consistent again; only outside references can tell

RESEAL_SQL = r"""
DO $$
DECLARE
  b record; v_frontier bytea[] := '{}'; v_size bigint := 0; v_prev bytea; v_leaves bytea; v_leaf bytea;
  v_node bytea; v_index bigint; v_root bytea; v_id bigint; v_hash bytea;
BEGIN
  FOR b IN SELECT * FROM pgaudit_kit.block ORDER BY block_no LOOP
    v_leaves := ''::bytea;
    FOREACH v_id IN ARRAY b.event_ids LOOP
      SELECT sha256('\x00'::bytea || pgaudit_kit.event_leaf_input(e, t)) INTO STRICT v_leaf
        FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid WHERE e.id = v_id;
      v_leaves := v_leaves || v_leaf;
      v_node := v_leaf;
      v_index := v_size;
      WHILE v_index % 2 = 1 LOOP
        v_node := sha256('\x01'::bytea || v_frontier[cardinality(v_frontier)] || v_node);
        v_frontier := v_frontier[1:cardinality(v_frontier) - 1];
        v_index := v_index / 2;
      END LOOP;
      v_frontier := v_frontier || v_node;
      v_size := v_size + 1;
    END LOOP;
    v_root := v_frontier[cardinality(v_frontier)];
    FOR i IN REVERSE cardinality(v_frontier) - 1 .. 1 LOOP
      v_root := sha256('\x01'::bytea || v_frontier[i] || v_root);
    END LOOP;
    v_hash := sha256(pgaudit_kit.block_hash_input(b.block_no, b.first_seq, b.tree_size, v_root, b.last_xid,
                                                  b.last_event_id, b.last_xid_events, b.last_xid_sealed, v_prev,
                                                  b.sealed_at));
    UPDATE pgaudit_kit.block SET leaves = v_leaves, root = v_root, frontier = v_frontier, prev_hash = v_prev,
                                 block_hash = v_hash
     WHERE block_no = b.block_no;
    v_prev := v_hash;
  END LOOP;
END
$$"""


def test_rewritten_history_with_recomputed_hashes_is_caught_by_anchors_and_state(audited: Audited) -> None:
    (target,) = audited.events_of("carol")
    pos = audited.position(target)
    sizes = [int(p.name.split("-")[0]) for p in audited.notes]
    assert sizes[0] > pos.seq  # both checkpoints cover the rewritten event
    assert_clean(audited, full=True)
    state_size = json.loads(audited.state.read_text())["tree_size"]
    before = audited.conn.execute("SELECT array_agg(block_hash ORDER BY block_no) FROM pgaudit_kit.block").fetchone()
    with guards_off(audited.conn), audited.conn.transaction():
        audited.conn.execute("UPDATE pgaudit_kit.event SET row_data = jsonb_set(row_data, '{owner}', '\"zed\"') "
                             "WHERE id = %s", (target,))
        audited.conn.execute(RESEAL_SQL)
        # the stored checkpoints are signed over the old roots and would betray the rewrite: delete them
        audited.conn.execute("DELETE FROM pgaudit_kit.checkpoint")
    after = audited.conn.execute("SELECT array_agg(block_hash ORDER BY block_no) FROM pgaudit_kit.block").fetchone()
    assert before != after
    # the database is self-consistent: without outside references, verification is clean
    assert_clean(audited, anchors=False, state=False, full=True)
    expected = [F("state_root", seq=state_size - 1)]
    for note, size in zip(audited.notes, sizes, strict=True):
        expected += [F("checkpoint_root", seq=size - 1, object=str(note)),
                     F("checkpoint_missing", object=str(note))]
    report = assert_findings(audited, expected, full=True)
    root = next(f for f in report["findings"] if f["kind"] == "state_root")
    assert root["expected"] == json.loads(audited.state.read_text())["root"] != root["calculated"]
    # the routine run from the trusted state: the block where it ended was rewritten, then the full check
    last_block = json.loads(audited.state.read_text())["block_no"]
    assert_findings(audited, [F("state_root", block_no=last_block), *expected])


def _reseal_in_one_block(audited: Audited) -> None:
    """The kit's own sealing, run again over the whole log with a batch large enough for one block: blocks
    now end at other sizes than the ones the checkpoints were signed at (issue 14, attack 1)."""
    audited.conn.execute("DELETE FROM pgaudit_kit.block")
    audited.conn.execute("SELECT pgaudit_kit.seal(1000000)")
    assert audited.conn.execute("SELECT count(*) FROM pgaudit_kit.block").fetchone() == (1,)


def test_history_resealed_by_the_kit_itself_is_checked_at_every_checkpoint_size(audited: Audited) -> None:
    """Edited events, blocks deleted and the log sealed anew by pgaudit_kit.seal(), checkpoint rows kept: no
    checkpoint size is a block end any more. Each is still checked against the root at its own size, and the
    trusted state stays where it was."""
    (target,) = audited.events_of("carol")
    sizes = [int(p.name.split("-")[0]) for p in audited.notes]
    assert audited.position(target).seq < sizes[0]
    assert_clean(audited, full=True)
    state_before = audited.state.read_text()
    state_size = json.loads(state_before)["tree_size"]
    with guards_off(audited.conn), audited.conn.transaction():
        audited.conn.execute("UPDATE pgaudit_kit.event SET row_data = jsonb_set(row_data, '{balance}', '\"4000\"') "
                             "WHERE id = %s", (target,))
        _reseal_in_one_block(audited)
    ends = {int(r[0]) for r in audited.conn.execute("SELECT tree_size FROM pgaudit_kit.block")}
    assert not ends & {*sizes, state_size}  # the old code compared nothing and reported clean
    expected = [F("state_root", seq=state_size - 1)]
    expected += [F("checkpoint_root", seq=size - 1, object=f"#{i} in the database") for i, size in
                 enumerate(sizes, 1)]
    expected += [F("checkpoint_root", seq=size - 1, object=str(note)) for note, size in
                 zip(audited.notes, sizes, strict=True)]
    assert_findings(audited, expected, full=True)
    # the routine run from the trusted state: where it ended was rewritten, so it re-checks all; never
    # moves the state onto the forged log
    last_block = json.loads(state_before)["block_no"]
    assert_findings(audited, [F("state_root", block_no=last_block), *expected])
    assert audited.state.read_text() == state_before


def test_checkpoints_inside_the_verified_prefix_are_checked_at_their_size_incrementally(audited: Audited) -> None:
    """An incremental run checks checkpoints older than its trusted state from the stored blocks (their hash
    chain ends in the state's block), also where a checkpoint's size falls inside a block."""
    with guards_off(audited.conn), audited.conn.transaction():
        _reseal_in_one_block(audited)  # same events, same leaves, same roots: only the block ends move
    assert_clean(audited, full=True)  # checkpoints and state agree with the roots at their sizes; state rewritten
    audited.write("frank", "INSERT INTO accounts VALUES (6, 'fy', 60)")
    audited.seal()
    code, report = audited.verify()
    assert (code, report["findings"], report["mode"]) == (0, [], "incremental"), report
    assert report["checkpoints_checked"] == 2 and report["anchored_checkpoints_checked"] == 2
    # the stored leaves inside the verified prefix are rewritten: they no longer give the committed root, so
    # the incremental run cannot trust them, re-checks everything, and finds the edit
    with guards_off(audited.conn):
        # 255 - b differs from b for every byte value (writing a fixed byte left it unchanged one run in 256)
        audited.conn.execute("UPDATE pgaudit_kit.block SET leaves = set_byte(leaves, 0, 255 - get_byte(leaves, 0)) "
                             "WHERE block_no = 0")
    code, report = audited.verify()
    assert code == 1 and report["mode"] == "full"
    assert {f["kind"] for f in report["findings"]} >= {"block_root"}


def test_infinite_timestamps_are_findings_and_verification_goes_on(audited: Audited) -> None:
    """Issue 14, attack 7 (its named cases): an event's statement_ts, a transaction's xact_start and a block's
    sealed_at set to infinity stopped verify with "cannot convert infinity to bigint", hiding any other edit.
    Each is now a finding naming the event or block, and the other edit made at the same time is reported."""
    carol, = audited.events_of("carol")
    bob = audited.events_of("bob")
    dave = audited.events_of("dave")
    assert_clean(audited, full=True)
    with guards_off(audited.conn), audited.conn.transaction():
        audited.conn.execute("UPDATE pgaudit_kit.event SET statement_ts = 'infinity' WHERE id = %s", (carol,))
        audited.conn.execute("UPDATE pgaudit_kit.transaction SET xact_start = '-infinity' WHERE actor = 'bob'")
        audited.conn.execute("UPDATE pgaudit_kit.block SET sealed_at = 'infinity' WHERE block_no = 0")
        audited.conn.execute("UPDATE pgaudit_kit.event SET row_data = row_data || '{\"balance\": \"1\"}' "
                             "WHERE id = %s", (dave[-1],))
    expected = [F("block_hash", block_no=0)]
    expected += [F("event_modified", seq=p.seq, event_id=p.event_id, block_no=p.block_no)
                 for p in sorted(map(audited.position, [carol, *bob, dave[-1]]), key=lambda s: s.seq)]
    code, report = audited.verify(full=True)
    assert code == 1
    assert sorted(findings(report), key=str) == sorted(expected, key=str), json.dumps(report["findings"], indent=1)


def _pg_tool(cluster: Cluster, name: str, *args: str) -> None:
    assert cluster.server is not None, "needs the suite's own server (its client tools)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | cluster.server.client_env()
    done = subprocess.run([cluster.server.tool(name), *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr


def test_restored_older_backup_is_state_rollback_and_checkpoint_beyond_log(audited: Audited) -> None:
    dump = audited.tmp / "old.dump"
    audited.seal()  # the backup holds a fully sealed log (the baseline verification's review events too)
    _pg_tool(audited.cluster, "pg_dump", "-Fc", "-f", str(dump), "-d", audited.dsn)
    old_size = audited.tree_size()
    origin = audited.origin()
    # life goes on: more writes, a checkpoint, a clean verification that moves the trusted state forward.
    # The restored log grows back towards the newer size: each verification's review event seals what
    # came before it (earlier review events, the re-binding's recorded DDL). frank writes enough that
    # it cannot catch up within this test.
    audited.write("frank", "INSERT INTO accounts SELECT g, 'fy', 60 FROM generate_series(6, 35) g",
                  "UPDATE accounts SET balance = 0 WHERE id = 1")
    audited.checkpoint()
    assert_clean(audited)
    state = json.loads(audited.state.read_text())
    new_size, new_last_block = state["tree_size"], state["block_no"]
    assert int(audited.notes[2].name.split("-")[0]) == new_size > old_size
    # restore the old dump under the same name (same cluster, database name and install id: same origin)
    audited.conn.close()
    audited.cluster.drop_database(audited.dbname)
    with audited.cluster.admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(audited.dbname)))
    _pg_tool(audited.cluster, "pg_restore", "--exit-on-error", "-d", audited.dsn, str(dump))
    audited.reconnect()
    assert audited.origin() == origin and audited.tree_size() == old_size
    expected = [
        F("state_root", block_no=new_last_block),  # where the trusted state ended: gone
        F("state_rollback", seq=new_size - 1),
        F("checkpoint_beyond_log", seq=new_size - 1, object=str(audited.notes[2])),
        F("checkpoint_missing", object=str(audited.notes[2])),
    ]
    code, report = audited.verify()
    got = findings(report)
    assert [f for f in got if not f[0].startswith("coverage_")] == expected, json.dumps(report["findings"], indent=1)
    assert [(f["expected"], f["calculated"]) for f in report["findings"][1:3]] == [(str(new_size), str(old_size))] * 2
    # The restored tables have new OIDs: capture still points at the old ones until `install` re-binds it.
    assert [f for f in got if f[0].startswith("coverage_")] == [("coverage_trigger", None, None, None, audited.table)]
    assert "run pgaudit-kit install to re-bind" in report["findings"][-1]["message"]
    assert code == 1
    rebound = cli("install", dsn=audited.dsn)
    assert rebound.exit_code == 0 and "re-bound capture of 1 enrolled tables" in rebound.stdout, rebound.stdout
    code, report = audited.verify()
    assert findings(report) == expected, json.dumps(report["findings"], indent=1)
    audited.conn.execute("INSERT INTO accounts VALUES (77, 'after restore', 1)")
    relid = audited.conn.execute("SELECT 'accounts'::regclass::oid").fetchone()
    assert audited.conn.execute("SELECT relid FROM pgaudit_kit.event ORDER BY id DESC LIMIT 1").fetchone() == relid
    assert_clean(audited, anchors=False, state=False)  # the restored database is consistent in itself


def test_restored_older_backup_grown_past_the_anchors_is_checkpoint_root(audited: Audited) -> None:
    """Issue 14, attack 1's variant: restore an older backup, re-bind, write past the newest anchored size in
    one transaction, seal, and put the newest checkpoint's row back. The log is now longer than every
    checkpoint, so no rollback shows by size: the roots at the checkpoint's and the state's sizes do."""
    dump = audited.tmp / "old.dump"
    audited.seal()
    _pg_tool(audited.cluster, "pg_dump", "-Fc", "-f", str(dump), "-d", audited.dsn)
    audited.write("frank", "INSERT INTO accounts SELECT g, 'fy', 60 FROM generate_series(6, 15) g")
    newest = audited.checkpoint()
    assert_clean(audited)
    state = json.loads(audited.state.read_text())
    row = audited.conn.execute("SELECT origin, tree_size, root, note FROM pgaudit_kit.checkpoint ORDER BY id DESC "
                               "LIMIT 1").fetchone()
    assert row is not None and row[1] == newest["tree_size"] == int(audited.notes[2].name.split("-")[0])
    audited.conn.close()
    audited.cluster.drop_database(audited.dbname)
    with audited.cluster.admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(audited.dbname)))
    _pg_tool(audited.cluster, "pg_restore", "--exit-on-error", "-d", audited.dsn, str(dump))
    audited.reconnect()
    assert cli("install", dsn=audited.dsn).exit_code == 0  # re-binds capture: records DDL
    audited.write("mallory", "INSERT INTO accounts SELECT g, 'mm', 1 FROM generate_series(1000, 1040) g")
    audited.seal()
    with guards_off(audited.conn):
        audited.conn.execute("INSERT INTO pgaudit_kit.checkpoint (origin, tree_size, root, note) VALUES (%s, %s, %s, %s)",
                             row)
    assert audited.tree_size() > state["tree_size"] and audited.tree_size() > newest["tree_size"]
    size = newest["tree_size"]
    expected = [F("state_root", seq=state["tree_size"] - 1),
                F("checkpoint_root", seq=size - 1, object=f"#{_checkpoint_ids(audited)[-1]} in the database"),
                F("checkpoint_root", seq=size - 1, object=str(audited.notes[2]))]
    assert_findings(audited, expected, full=True)
    assert_findings(audited, [F("state_root", block_no=state["block_no"]), *expected])


def _checkpoint_ids(audited: Audited) -> list[int]:
    return [int(r[0]) for r in audited.conn.execute("SELECT id FROM pgaudit_kit.checkpoint ORDER BY id")]


def test_truncated_event_table_is_event_missing_for_every_sealed_event(audited: Audited) -> None:
    assert_clean(audited)
    sealed = audited.sealed()  # after the verification: the review events it sealed are gone too
    with guards_off(audited.conn):
        audited.conn.execute("TRUNCATE pgaudit_kit.event")
    expected = [F("event_missing", seq=s.seq, event_id=s.event_id, block_no=s.block_no) for s in sealed]
    # the recorded enable of the table went too: its enrolment is no longer backed by the log
    assert_findings(audited, [*expected, F("coverage_enrolment", object=audited.table)], full=True)


def test_truncated_log_is_state_rollback_and_checkpoint_beyond_log(audited: Audited) -> None:
    assert_clean(audited)
    state = json.loads(audited.state.read_text())  # what the verification saw (later review events aside)
    size, last_block = state["tree_size"], state["block_no"]
    with guards_off(audited.conn):
        audited.conn.execute("TRUNCATE pgaudit_kit.event, pgaudit_kit.transaction, pgaudit_kit.block, "
                             "pgaudit_kit.checkpoint")
    # The log is consistent in itself, but its recorded enable of the table went with it: the enrolment
    # is no longer backed by the log.
    enrolment = F("coverage_enrolment", object=audited.table)
    assert_findings(audited, [enrolment], anchors=False, state=False)
    expected = [F("state_rollback", seq=size - 1)]
    for note in audited.notes:
        checkpoint_size = int(note.name.split("-")[0])
        expected += [F("checkpoint_beyond_log", seq=checkpoint_size - 1, object=str(note)),
                     F("checkpoint_missing", object=str(note))]
    expected.append(enrolment)
    assert_findings(audited, [F("state_root", block_no=last_block), *expected])
    assert_findings(audited, expected, full=True)


@pytest.mark.parametrize("attack", ["delete_newest_block_events", "truncate_events"])
def test_incremental_verify_notices_deleted_sealed_events(audited: Audited, attack: str) -> None:
    """The routine run, `verify --state` without --full, re-hashes only what is new since the trusted
    state. Re-hashing the old prefix is the --full run's job, but sealed events vanishing from that
    prefix (a cheap count) must not pass as clean: the state would even be moved forward over it."""
    assert_clean(audited)
    sealed = audited.sealed()  # after the verification, which may have sealed review events
    gone = [s for s in sealed if s.block_no == sealed[-1].block_no] if attack == "delete_newest_block_events" else sealed
    with guards_off(audited.conn):
        if attack == "truncate_events":
            audited.conn.execute("TRUNCATE pgaudit_kit.event")
        else:
            audited.conn.execute("DELETE FROM pgaudit_kit.event WHERE id = ANY(%s)", ([s.event_id for s in gone],))
    expected = [F("event_missing", seq=s.seq, event_id=s.event_id, block_no=s.block_no) for s in gone]
    if attack == "truncate_events":  # the recorded enable of the table went too
        expected.append(F("coverage_enrolment", object=audited.table))
    assert_findings(audited, expected, full=True)
    assert_findings(audited, expected)


def _reinstall(audited: Audited) -> tuple[str, str]:
    old_origin = audited.origin()
    audited.conn.close()
    result = cli("uninstall", "--discard-history", dsn=audited.dsn)
    assert result.exit_code == 0, result.stderr
    result = cli("install", dsn=audited.dsn)
    assert result.exit_code == 0, result.stderr
    audited.reconnect()
    new_origin = audited.origin()
    assert new_origin != old_origin and new_origin.rsplit("/", 1)[0] == old_origin.rsplit("/", 1)[0]
    return old_origin, new_origin


def test_reinstalled_kit_with_old_state_is_state_origin(audited: Audited) -> None:
    assert_clean(audited)
    old_origin, new_origin = _reinstall(audited)
    report = assert_findings(audited, [F("state_origin")], anchors=False)
    assert (report["findings"][0]["expected"], report["findings"][0]["calculated"]) == (old_origin, new_origin)


def test_reinstalled_kit_does_not_silently_ignore_the_old_installations_anchors(audited: Audited) -> None:
    """After `uninstall --discard-history` + `install`, the anchor directory still holds checkpoints of
    this very database (same cluster, same database name) under the old install id. A verifier given
    that anchor directory must not call the emptied database clean."""
    assert_clean(audited, state=False)
    old_origin, new_origin = _reinstall(audited)
    expected = [F("checkpoint_origin", object=str(note)) for note in audited.notes]
    report = assert_findings(audited, expected, state=False)
    assert {(f["expected"], f["calculated"]) for f in report["findings"]} == {(new_origin, old_origin)}


# ---------------------------------------------------------------------------------------------------
# 11-12: coverage: capture quietly switched off


def test_replaced_capture_function_is_coverage_capture_modified(audited: Audited) -> None:
    function = f"pgaudit_kit.capture_{audited.relid()}"
    assert_clean(audited)
    with guards_off(audited.conn) as conn:
        conn.execute(f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
                     "AS $$ BEGIN RETURN NULL; END $$")
    size = audited.tree_size()
    count = audited.conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
    audited.write("mallory", "UPDATE accounts SET balance = 1000000 WHERE id = 1")
    assert audited.conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone() == count
    assert audited.tree_size() == size  # the write went unrecorded
    assert_findings(audited, [F("coverage_capture_modified", object=function)])


def test_unpinned_output_setting_of_a_capture_function_is_coverage_capture_modified(audited: Audited) -> None:
    """The body is intact but a pinned setting is gone, so images would follow each writer's session."""
    function = f"pgaudit_kit.capture_{audited.relid()}"
    config = audited.conn.execute(f"SELECT proconfig FROM pg_proc WHERE oid = '{function}()'::regprocedure").fetchone()
    assert config is not None and 'search_path=""' in config[0]
    assert_clean(audited)
    with guards_off(audited.conn) as conn:
        conn.execute(f"ALTER FUNCTION {function}() RESET search_path")
    assert_findings(audited, [F("coverage_capture_modified", object=function)])


def test_execute_granted_to_a_kit_role_beyond_the_shipped_grants_is_coverage_privilege(audited: Audited) -> None:
    """The commit-time invariants refuse EXECUTE on a kit function for roles outside the kit, not for its
    own roles: a grant that lets every admin open maintenance windows passes them. verify compares each
    function's grantees with the shipped SQL; so also a grant taken away, and a grant option given."""
    assert_clean(audited)
    audited.conn.execute("GRANT EXECUTE ON FUNCTION pgaudit_kit.begin_maintenance(text) TO pgaudit_kit_admin")
    audited.conn.execute("REVOKE EXECUTE ON FUNCTION pgaudit_kit.seal(integer, boolean) FROM pgaudit_kit_admin")
    audited.conn.execute("GRANT EXECUTE ON FUNCTION pgaudit_kit.lockdown(text) TO pgaudit_kit_admin WITH GRANT OPTION")
    report = assert_findings(audited, [F("coverage_privilege", object="pgaudit_kit.begin_maintenance(text)"),
                                       F("coverage_privilege", object="pgaudit_kit.lockdown(text)"),
                                       F("coverage_privilege", object="pgaudit_kit.seal(integer,boolean)")])
    assert [f["message"] for f in report["findings"]] == [
        "pgaudit_kit_admin may execute pgaudit_kit.begin_maintenance(text), which the kit does not grant",
        "pgaudit_kit_admin may grant EXECUTE on pgaudit_kit.lockdown(text) to others, which the kit never allows",
        "pgaudit_kit_admin may no longer execute pgaudit_kit.seal(integer,boolean), which the kit grants"]


def test_disabled_capture_trigger_is_coverage_trigger(audited: Audited) -> None:
    assert_clean(audited)
    with guards_off(audited.conn) as conn:
        conn.execute("ALTER TABLE accounts DISABLE TRIGGER pgaudit_kit_capture_update")
    code, report = audited.verify()
    assert code == 1, report
    assert [f["kind"] for f in report["findings"]] == ["coverage_trigger"], report["findings"]
    (finding,) = report["findings"]
    assert "pgaudit_kit_capture_update" in finding["message"] and audited.table in finding["message"]
    # like coverage_sealing (object: the table the trigger is on), the finding names its object
    assert finding.get("object") == audited.table, finding


# ---------------------------------------------------------------------------------------------------
# 13-15: checkpoints


def test_deleted_checkpoint_row_is_checkpoint_missing(audited: Audited) -> None:
    assert_clean(audited)
    with guards_off(audited.conn):
        audited.conn.execute("DELETE FROM pgaudit_kit.checkpoint WHERE id = (SELECT min(id) FROM pgaudit_kit.checkpoint)")
    assert_findings(audited, [F("checkpoint_missing", object=str(audited.notes[0]))])


def test_checkpoint_signed_by_another_key_is_checkpoint_signature(audited: Audited) -> None:
    assert cli("keygen", "--name", "audit", "--out", str(audited.tmp / "mallory")).exit_code == 0
    assert_clean(audited)
    # the attacker seals and checkpoints with a key of their own (same key name), into both places
    forged = audited.checkpoint(key=audited.tmp / "mallory.key")
    row = audited.conn.execute("SELECT max(id) FROM pgaudit_kit.checkpoint").fetchone()
    assert row is not None
    assert_findings(audited, [F("checkpoint_signature", object=f"#{row[0]} in the database"),
                              F("checkpoint_signature", object=forged["anchored_at"])])
    # without --public-key signatures are not checked (and the report says so)
    code, report = audited.verify(public_key=False, state=False)
    assert (code, report["signatures_checked"]) == (0, False)


def test_checkpoint_copied_from_another_database_is_checkpoint_origin(audited: Audited) -> None:
    other_name = audited.cluster.create_database(TEMPLATE_INSTALLED)
    try:
        other = audited.cluster.dsn(other_name)
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)")
            enable(conn, "accounts")
            conn.execute("INSERT INTO accounts VALUES (1, 'ada', 10)")
        result = cli("checkpoint", "--key", str(audited.key), "--anchor-dir", str(audited.tmp / "other-anchors"),
                     "--format", "json", dsn=other)
        assert result.exit_code == 0, result.stderr
        foreign = Path(json.loads(result.stdout)["anchored_at"])
        origin, other_origin = audited.origin(), audited.origin(other)
    finally:
        audited.cluster.drop_database(other_name)
    assert origin != other_origin
    assert_clean(audited)
    copy = anchors.origin_dir(audited.anchor_dir, origin) / foreign.name
    shutil.copyfile(foreign, copy)
    report = assert_findings(audited, [F("checkpoint_origin", object=str(copy))])
    assert (report["findings"][0]["expected"], report["findings"][0]["calculated"]) == (origin, other_origin)


# ---------------------------------------------------------------------------------------------------
# 16: proofs checked offline


def test_verify_proof_rejects_altered_event_and_wrong_key(audited: Audited) -> None:
    target = audited.events_of("bob")[0]
    proof = audited.tmp / "proof.json"
    result = cli("prove", str(target), "--out", str(proof), dsn=audited.dsn)
    assert result.exit_code == 0, result.stderr
    good = cli("verify-proof", str(proof), "--public-key", str(audited.pub))
    assert good.exit_code == 0 and good.stdout.startswith(f"valid: event {target} is entry"), good.stdout

    document = json.loads(proof.read_text())
    row = json.loads(document["event"]["row_data"])
    row["balance"] = "1000000"
    document["event"]["row_data"] = json.dumps(row)
    altered = audited.tmp / "altered.json"
    altered.write_text(json.dumps(document))
    bad = cli("verify-proof", str(altered), "--public-key", str(audited.pub))
    assert bad.exit_code == 1 and bad.stdout.startswith("INVALID: inclusion proof leads to another root"), bad.stdout

    assert cli("keygen", "--name", "audit", "--out", str(audited.tmp / "other")).exit_code == 0
    wrong = cli("verify-proof", str(proof), "--public-key", str(audited.tmp / "other.pub"))
    other_key = signing.read_public_key(audited.tmp / "other.pub")
    assert wrong.exit_code == 1, wrong.stdout
    assert wrong.stdout.strip() == f"INVALID: note is not signed by key audit+{other_key.key_hash.hex()}"


# ---------------------------------------------------------------------------------------------------
# 17: tampered blocks


@pytest.mark.parametrize("column", ["root", "prev_hash"])
def test_tampered_block_is_named(audited: Audited, column: str) -> None:
    assert_clean(audited, full=True)
    block_no = 1  # the baseline holds at least two blocks; block 1 has a predecessor
    with guards_off(audited.conn):
        audited.conn.execute(
            sql.SQL("UPDATE pgaudit_kit.block SET {} = sha256('forged'::bytea) WHERE block_no = %s").format(
                sql.Identifier(column)), (block_no,))
    if column == "root":
        expected = [F("block_hash", block_no=block_no), F("block_root", block_no=block_no)]
    else:
        expected = [F("block_chain", block_no=block_no), F("block_hash", block_no=block_no)]
    assert_findings(audited, expected, full=True)


@pytest.mark.parametrize("column", ["root", "leaves", "block_hash", "first_seq", "event_ids"])
def test_null_in_a_block_with_its_constraint_dropped_is_a_finding(audited: Audited, column: str) -> None:
    """docs/ENCODING.md §9: a superuser who drops a NOT NULL constraint can store NULL where the sealer never
    does; verify read it with bytes()/int() and stopped (exit 4). It is a finding of that block."""
    assert_clean(audited, full=True)
    block_no = 1
    with guards_off(audited.conn):
        audited.conn.execute(sql.SQL("ALTER TABLE pgaudit_kit.block ALTER COLUMN {} DROP NOT NULL").format(
            sql.Identifier(column)))
        audited.conn.execute(sql.SQL("UPDATE pgaudit_kit.block SET {} = NULL WHERE block_no = %s").format(
            sql.Identifier(column)), (block_no,))
    code, report = audited.verify(full=True)
    assert code == 1 and any(f.get("block_no") == block_no for f in report["findings"]), report["findings"]


def test_leaves_shorter_than_the_events_of_a_block_are_block_malformed(audited: Audited) -> None:
    """A block's leaves one byte short of 32 per event: the last leaf is then 31 bytes, and verify reported only
    that event as modified. The block is malformed as well."""
    assert_clean(audited, full=True)
    with guards_off(audited.conn):
        for (name,) in audited.conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'pgaudit_kit.block'::regclass AND contype = 'c' "
                "AND pg_get_constraintdef(oid) LIKE '%length(leaves)%'").fetchall():
            audited.conn.execute(sql.SQL("ALTER TABLE pgaudit_kit.block DROP CONSTRAINT {}").format(
                sql.Identifier(name)))
        audited.conn.execute("UPDATE pgaudit_kit.block SET leaves = substr(leaves, 1, length(leaves) - 1) "
                             "WHERE block_no = 1")
    code, report = audited.verify(full=True)
    kinds = {f["kind"] for f in report["findings"] if f.get("block_no") == 1}
    assert code == 1 and "block_malformed" in kinds, report["findings"]
