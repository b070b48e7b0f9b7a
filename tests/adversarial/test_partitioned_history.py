"""Partitioned history (issue 16, item 2): pgaudit_kit.event is partitioned by ranges of id, partitions are
created ahead of the identity without stopping writers, events spread over many partitions seal, verify and
review as before, each partition guards itself (a statement naming a partition fires none of its parent's
statement triggers and checks none of its row-level security), and a partition taken out of the table behind the
kit's back is refused at commit or found by verify."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.enforcement import assert_refused, invariant_problems
from tests.support.helpers import cli, enable, guards_off, spread_over_partitions

Conn = psycopg.Connection[Any]


def partitions(conn: Conn) -> list[tuple[str, int | None, int | None, bool]]:
    return [(str(n), lo, hi, bool(d)) for n, lo, hi, d in conn.execute(
        "SELECT name, lower_id, upper_id, is_default FROM pgaudit_kit.event_partitions()").fetchall()]


def holders(conn: Conn, where: str = "true") -> dict[str, int]:
    """Recorded changes (insert, update, delete) per partition."""
    return {str(name): int(n) for name, n in conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM pgaudit_kit.event "
        f"WHERE op IN ('I', 'U', 'D') AND {where} GROUP BY 1").fetchall()}


def test_a_fresh_install_partitions_events_ahead_and_guards_each_partition(kit_conn: Conn) -> None:
    assert kit_conn.execute("SELECT relkind::text FROM pg_class WHERE oid = 'pgaudit_kit.event'::regclass"
                            ).fetchone() == ("p",)
    width = 2**32
    assert partitions(kit_conn) == [("event_p0", None, width, False), ("event_p1", width, 2 * width, False),
                                    ("event_p2", 2 * width, 3 * width, False), ("event_overflow", None, None, True)]
    shape = kit_conn.execute("""
        SELECT c.relname::text, c.relrowsecurity,
               NOT EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner),
               (SELECT array_agg(t.tgname::text || ':' || t.tgenabled::text ORDER BY t.tgname) FROM pg_trigger t
                 WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
               (SELECT array_agg(p.polname::text) FROM pg_policy p WHERE p.polrelid = c.oid)
          FROM pgaudit_kit.event_partitions() e JOIN pg_class c ON c.oid = e.partition ORDER BY 1""").fetchall()
    for name, rls, no_grants, triggers, policies in shape:
        assert rls and no_grants, name  # read through the parent only
        assert triggers == ["pgaudit_kit_guard:A", "pgaudit_kit_retire_only:A"], (name, triggers)
        assert policies == ["pgaudit_kit_review"], name
    assert invariant_problems(kit_conn) == []
    # and a second run creates nothing: two are ahead already
    assert kit_conn.execute("SELECT pgaudit_kit.add_event_partitions()").fetchone() == (0,)


def test_history_spread_over_partitions_seals_verifies_and_reviews(kit_conn: Conn, kit_db: str, tmp_path: Path) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t")
    spread_over_partitions(kit_conn, events_each=4, ahead=40)
    for i in range(12):
        kit_conn.execute("INSERT INTO t VALUES (%s, 'one')", (i,))
        kit_conn.execute("UPDATE t SET v = 'two' WHERE id = %s", (i % 3,))
    kit_conn.execute("INSERT INTO t SELECT g, 'bulk' FROM generate_series(100, 199) g")  # a chunk, expanded at sealing
    kit_conn.execute("UPDATE t SET v = 'after bulk' WHERE id = 1")
    sealed = cli("seal", dsn=kit_db)
    assert sealed.exit_code == 0, sealed.output
    spread = holders(kit_conn, "table_name = 't'")
    # 25 single events, 4 to a partition (the control event of each partition created takes an id too), and the
    # chunk's 100 events, numbered from one id
    assert len(spread) >= 6, spread
    report = json.loads(cli("verify", "--full", "--format", "json", dsn=kit_db).stdout)
    assert report["clean"], report["findings"]
    history = json.loads(cli("history", "public.t", "1", "--format", "json", dsn=kit_db).stdout)["events"]
    assert [e["operation"] for e in history if e["op"] != "S"] == ["INSERT"] + ["UPDATE"] * 5
    assert len({e["id"] // (4 * 1024) for e in history}) >= 4  # from partitions far apart
    assert history[-1]["new"]["v"] == "after bulk"
    logged = json.loads(cli("log", "--table", "public.t", "--pk", "150", "--format", "json", dsn=kit_db).stdout)
    assert [e["new"]["v"] for e in logged["events"]] == ["bulk"]
    assert cli("keygen", "--name", "shop-audit", "--out", str(tmp_path / "shop")).exit_code == 0
    assert cli("checkpoint", "--key", str(tmp_path / "shop.key"), dsn=kit_db).exit_code == 0
    proof = cli("prove", str(history[0]["id"]), dsn=kit_db)
    assert proof.exit_code == 0, proof.output


def test_events_beyond_every_partition_land_in_overflow_and_the_next_partitions_start_after_them(
        kit_conn: Conn, kit_db: str) -> None:
    """Nobody created partitions for a long while: writes never fail, the events go to the DEFAULT partition,
    doctor says so, and the next partitions start after them (attaching one over them would fail)."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    top = max(hi for _, _, hi, d in partitions(kit_conn) if not d and hi is not None)
    kit_conn.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", (top + 5 * 1024,))
    kit_conn.execute("INSERT INTO t SELECT generate_series(1, 3)")  # (one statement: three single events)
    assert holders(kit_conn, "table_name = 't'") == {"pgaudit_kit.event_overflow": 3}
    doctor = json.loads(cli("doctor", "--format", "json", dsn=kit_db).stdout)
    item = next(i for i in doctor["items"] if i["id"] == "partitions")
    assert item["severity"] == "warning" and "event_overflow" in item["finding"], item
    created = cli("partitions", "--format", "json", dsn=kit_db)
    assert created.exit_code == 0, created.output
    listed = json.loads(created.stdout)
    assert listed["created"] == 2
    highest = kit_conn.execute("SELECT max(id) FROM pgaudit_kit.event_overflow").fetchone()
    assert highest is not None
    new = [p for p in listed["partitions"] if p["lower_id"] is not None and p["lower_id"] >= top]
    assert len(new) == 2 and new[0]["lower_id"] > highest[0]
    kit_conn.execute("INSERT INTO t VALUES (4)")
    assert holders(kit_conn, "table_name = 't' AND row_data->>'id' = '4'") == {f"pgaudit_kit.{new[0]['name']}": 1}
    assert cli("seal", dsn=kit_db).exit_code == 0
    assert json.loads(cli("verify", "--full", "--format", "json", dsn=kit_db).stdout)["clean"]


def test_creating_partitions_does_not_wait_for_writers_and_gives_way_to_readers(kit_conn: Conn, kit_db: str) -> None:
    """ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the event table, which an audited writer's ROW EXCLUSIVE does
    not conflict with: partitions are created while a writer's transaction is open, and the writer commits. A reader
    of the whole event table (a long verify, an export) holds event_overflow, which attaching must lock: creation
    then gives up after 100 ms, creating nothing, instead of queueing every other reader (sealing) behind it."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    with psycopg.connect(kit_db) as writer, psycopg.connect(kit_db, autocommit=True) as creator:
        writer.execute("INSERT INTO t VALUES (1)")  # open: holds the event table and a partition
        creator.execute("SET statement_timeout = '2s'")
        assert creator.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 5)").fetchone() == (3,)
        writer.commit()
    assert len(partitions(kit_conn)) == 7
    with psycopg.connect(kit_db) as reader, psycopg.connect(kit_db, autocommit=True) as creator:
        reader.execute("SELECT count(*) FROM pgaudit_kit.event")  # open: holds every partition
        with pytest.raises(psycopg.errors.LockNotAvailable):
            creator.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 6)")
        assert cli("seal", dsn=kit_db).exit_code == 0  # sealing reads the table meanwhile: no waiting
        kit_conn.execute("INSERT INTO t VALUES (2)")  # nor for writers
        reader.rollback()
        assert creator.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 6)").fetchone() == (1,)
    assert holders(kit_conn, "table_name = 't'") == {"pgaudit_kit.event_p0": 2}


@pytest.mark.parametrize("statement", [
    "ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_p0",
    "ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_overflow",
    "DROP TABLE pgaudit_kit.event_p1",
    "CREATE TABLE pgaudit_kit.event_forged PARTITION OF pgaudit_kit.event FOR VALUES FROM (4611686018427387904) TO (MAXVALUE)",
    "ALTER TABLE pgaudit_kit.event_p0 DISABLE TRIGGER pgaudit_kit_retire_only",
    "ALTER TABLE pgaudit_kit.event_overflow DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE pgaudit_kit.event_p1 NO FORCE ROW LEVEL SECURITY",
    "CREATE POLICY open ON pgaudit_kit.event_p1 FOR INSERT WITH CHECK (true)",
], ids=["detach", "detach-overflow", "drop", "create-forged", "disable-guard", "disable-rls", "rls-option", "policy"])
def test_changing_a_partition_is_refused_even_for_a_superuser(kit_conn: Conn, statement: str) -> None:
    before = partitions(kit_conn)
    assert_refused(kit_conn, statement, "pgaudit-kit")
    assert partitions(kit_conn) == before
    assert invariant_problems(kit_conn) == []


def test_attaching_a_table_of_forged_events_is_refused(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE public.forged (LIKE pgaudit_kit.event)")
    kit_conn.execute("INSERT INTO public.forged (id, xid, statement_ts, op) "
                     "VALUES (4611686018427387904, pg_current_xact_id(), now(), 'I')")
    assert_refused(kit_conn, "ALTER TABLE pgaudit_kit.event ATTACH PARTITION public.forged "
                             "FOR VALUES FROM (4611686018427387904) TO (MAXVALUE)", "pgaudit-kit")
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE id >= 4611686018427387904").fetchone() == (0,)


def test_the_partition_work_setting_opens_nothing_to_a_superuser_at_commit(kit_conn: Conn) -> None:
    """The kit's functions name the partition they work on in a transaction-local setting, which the DDL guard
    lets through. Anybody may set it; only the kit's owner (and a superuser) may change kit tables at all, and a
    superuser who sets it to detach a partition is still refused: by the commit check, which finds a table of the
    kit's schema that belongs to neither the kit nor the event table."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused, kit_conn.transaction():
        kit_conn.execute("SELECT set_config('pgaudit_kit.partition_work', 'event_p1', true)")
        kit_conn.execute("ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_p2")
    assert "pgaudit_kit.event_p2 is not a table of the kit" in str(refused.value)
    # the partition it names cannot be detached either: only attached
    with pytest.raises(psycopg.errors.InsufficientPrivilege), kit_conn.transaction():
        kit_conn.execute("SELECT set_config('pgaudit_kit.partition_work', 'event_p1', true)")
        kit_conn.execute("ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_p1")
    assert [p[0] for p in partitions(kit_conn)] == ["event_p0", "event_p1", "event_p2", "event_overflow"]


def test_a_partition_detached_behind_the_kit_is_found_by_verify(kit_conn: Conn, kit_db: str) -> None:
    """A superuser switches the guards off and detaches a partition of sealed events: the log no longer holds
    them, and verify names each missing event; the detached table in the kit's schema is a coverage finding."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    spread_over_partitions(kit_conn, events_each=4, ahead=6)
    for i in range(10):
        kit_conn.execute("INSERT INTO t VALUES (%s)", (i,))
    assert cli("seal", dsn=kit_db).exit_code == 0
    victim, count = sorted(holders(kit_conn, "table_name = 't'").items())[1]
    with guards_off(kit_conn):
        kit_conn.execute(f"ALTER TABLE pgaudit_kit.event DETACH PARTITION {victim}")
    problems = invariant_problems(kit_conn)
    assert any(o == victim and "not a table of the kit" in p for _, o, p in problems), problems
    report = json.loads(cli("verify", "--full", "--format", "json", dsn=kit_db).stdout)
    assert not report["clean"]
    assert report["finding_counts"].get("event_missing") == count, report["finding_counts"]


def test_sealing_keeps_partitions_ahead_and_the_follower_does_too(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    spread_over_partitions(kit_conn, events_each=8, ahead=3)
    for i in range(6):
        kit_conn.execute("INSERT INTO t VALUES (%s)", (i,))
    result = cli("seal", dsn=kit_db)
    assert result.exit_code == 0 and "partitions of the event table ahead" in result.stdout, result.output
    assert "event_overflow" not in holders(kit_conn)
    next_id = kit_conn.execute("SELECT last_value + 1024 FROM pgaudit_kit.event_id_seq").fetchone()
    assert next_id is not None
    # (the events recording the new partitions take ids: a control event each, and the REVOKE of its privileges)
    ahead = [p for p in partitions(kit_conn) if p[1] is not None and p[1] > next_id[0]]
    assert len(ahead) >= 1, (partitions(kit_conn), next_id, result.output)
    recorded = kit_conn.execute("SELECT row_data->>'partition' FROM pgaudit_kit.event WHERE op = 'K' "
                                "AND row_data->>'action' = 'partition' ORDER BY id").fetchall()
    assert len(recorded) >= 4 and recorded[0] == ("event_p3",), recorded
    # the follower, at its start
    for i in range(6, 16):
        kit_conn.execute("INSERT INTO t VALUES (%s)", (i,))
    stop = threading.Event()
    lines: list[str] = []
    from pgaudit_kit.log import sealing
    with psycopg.connect(kit_db, autocommit=True) as conn:
        follower = sealing.Follower(conn, 0.2, stop, lines.append)
        thread = threading.Thread(target=follower.run)
        thread.start()
        try:
            for _ in range(100):
                if any("created" in line for line in lines):
                    break
                stop.wait(0.1)
        finally:
            stop.set()
            thread.join(10)
    assert any("partitions of the event table ahead" in line for line in lines), lines
