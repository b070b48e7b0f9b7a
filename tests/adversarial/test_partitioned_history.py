"""Partitioned history (issue 16, item 2): pgaudit_kit.event is partitioned by ranges of id, partitions are
created ahead of the identity without stopping writers, events spread over many partitions seal, verify and
review as before, each partition guards itself (a statement naming a partition fires none of its parent's
statement triggers and checks none of its row-level security), and a partition taken out of the table behind the
kit's back is refused at commit or found by verify."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.support.cluster import Cluster
from tests.support.enforcement import assert_refused, invariant_problems
from tests.support.helpers import cli, enable, guards_off, spread_over_partitions, with_params

Conn = psycopg.Connection[Any]


def partitions(conn: Conn) -> list[tuple[str, int | None, int | None, bool]]:
    return [(str(n), lo, hi, bool(d)) for n, lo, hi, d in conn.execute(
        "SELECT name, lower_id, upper_id, is_overflow FROM pgaudit_kit.event_partitions()").fetchall()]


def holders(conn: Conn, where: str = "true") -> dict[str, int]:
    """Recorded changes (insert, update, delete) per partition."""
    return {str(name): int(n) for name, n in conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM pgaudit_kit.event "
        f"WHERE op IN ('I', 'U', 'D') AND {where} GROUP BY 1").fetchall()}


def test_a_fresh_install_partitions_events_ahead_and_guards_each_partition(kit_conn: Conn) -> None:
    assert kit_conn.execute("SELECT relkind::text FROM pg_class WHERE oid = 'pgaudit_kit.event'::regclass"
                            ).fetchone() == ("p",)
    width = 2**26  # the first partitions'; later ones are sized by the ids their events take
    assert partitions(kit_conn) == [("event_p0", None, width, False), ("event_p1", width, 2 * width, False),
                                    ("event_p2", 2 * width, 3 * width, False), ("event_overflow", 3 * width, None, True)]
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


def test_events_beyond_every_partition_land_in_overflow_which_then_becomes_their_partition(
        kit_conn: Conn, kit_db: str) -> None:
    """Nobody created partitions for a long while: writes never fail, the events go to event_overflow (every id
    above the partitions), doctor says so, and the next run makes event_overflow, with them, a partition of its
    own, then the partitions ahead and a new event_overflow above them."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    top = max(hi for _, _, hi, over in partitions(kit_conn) if not over and hi is not None)
    kit_conn.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", (top + 5 * 1024,))
    kit_conn.execute("INSERT INTO t SELECT generate_series(1, 3)")  # (one statement: three single events)
    assert holders(kit_conn, "table_name = 't'") == {"pgaudit_kit.event_overflow": 3}
    doctor = json.loads(cli("doctor", "--format", "json", dsn=kit_db).stdout)
    item = next(i for i in doctor["items"] if i["id"] == "partitions")
    assert item["severity"] == "warning" and "event_overflow" in item["finding"], item
    highest = kit_conn.execute("SELECT max(id) FROM pgaudit_kit.event "
                               "WHERE tableoid = 'pgaudit_kit.event_overflow'::regclass").fetchone()
    assert highest is not None  # (doctor recorded its review there too)
    created = cli("partitions", "--format", "json", dsn=kit_db)
    assert created.exit_code == 0, created.output
    listed = json.loads(created.stdout)
    # the old event_overflow with its events; the one the next id falls in; two ahead; a new event_overflow
    assert listed["created"] == 4
    ranges = [(p["name"], p["lower_id"], p["upper_id"]) for p in listed["partitions"][3:]]
    assert ranges[0] == ("event_p3", top, highest[0] + 1)
    assert ranges[1][1] == highest[0] + 1 and len(ranges) == 5
    assert ranges[-1][0] == "event_overflow" and ranges[-1][2] is None
    assert holders(kit_conn, "table_name = 't'") == {"pgaudit_kit.event_p3": 3}
    kit_conn.execute("INSERT INTO t VALUES (4)")
    assert holders(kit_conn, "table_name = 't' AND row_data->>'id' = '4'") == {f"pgaudit_kit.{ranges[1][0]}": 1}
    assert invariant_problems(kit_conn) == []
    assert cli("seal", dsn=kit_db).exit_code == 0
    assert json.loads(cli("verify", "--full", "--format", "json", dsn=kit_db).stdout)["clean"]
    doctor = json.loads(cli("doctor", "--format", "json", dsn=kit_db).stdout)
    assert next(i for i in doctor["items"] if i["id"] == "partitions")["severity"] == "ok"


def test_creating_partitions_gives_way_to_writers_and_readers(kit_conn: Conn, kit_db: str) -> None:
    """A partition is carved out of event_overflow under an ACCESS EXCLUSIVE lock on the event table, which a
    writer's or reader's open transaction holds off: creation waits at most 100 ms for it, then gives up, creating
    nothing; the writer and the reader go on unharmed, and the next try, once they are done, succeeds."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    before = partitions(kit_conn)
    for holder in ("INSERT INTO t VALUES (1)", "SELECT count(*) FROM pgaudit_kit.event"):
        with psycopg.connect(kit_db) as open_txn, psycopg.connect(kit_db, autocommit=True) as creator:
            open_txn.execute(holder)
            with pytest.raises(psycopg.errors.LockNotAvailable):
                creator.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 5)")
            assert partitions(kit_conn) == before
            kit_conn.execute("SELECT 1")
            open_txn.commit()
    with psycopg.connect(kit_db, autocommit=True) as creator:
        assert creator.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 5)").fetchone() == (3,)
    assert len(partitions(kit_conn)) == 7 and partitions(kit_conn)[-1][0] == "event_overflow"
    kit_conn.execute("INSERT INTO t VALUES (2)")
    assert holders(kit_conn, "table_name = 't'") == {"pgaudit_kit.event_p0": 2}
    assert invariant_problems(kit_conn) == []


def test_review_reads_the_partitions_newest_first(kit_conn: Conn) -> None:
    """Partitions by ranges of id, none of them DEFAULT: a page of the newest events matching a filter is read
    partition by partition from the newest (an ordered Append), not by a Merge Append that reads every partition
    until its first match (with a DEFAULT partition the planner cannot order them)."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    spread_over_partitions(kit_conn, events_each=4, ahead=8)
    for i in range(20):
        kit_conn.execute("INSERT INTO t VALUES (%s)", (i,))
    plan = "\n".join(r[0] for r in kit_conn.execute(
        "EXPLAIN SELECT id FROM pgaudit_kit.event e WHERE e.relid = 't'::regclass "
        "AND e.statement_ts >= now() - interval '1 hour' ORDER BY id DESC LIMIT 5"))
    assert "Merge Append" not in plan and "Append" in plan, plan


@pytest.mark.parametrize("statement", [
    "ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_p0",
    "ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_overflow",
    "DROP TABLE pgaudit_kit.event_p1",
    "ALTER TABLE pgaudit_kit.event_p0 DISABLE TRIGGER pgaudit_kit_retire_only",
    "ALTER TABLE pgaudit_kit.event_overflow DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE pgaudit_kit.event_p1 NO FORCE ROW LEVEL SECURITY",
    "CREATE POLICY open ON pgaudit_kit.event_p1 FOR INSERT WITH CHECK (true)",
], ids=["detach", "detach-overflow", "drop", "disable-guard", "disable-rls", "rls-option", "policy"])
def test_changing_a_partition_is_refused_even_for_a_superuser(kit_conn: Conn, statement: str) -> None:
    before = partitions(kit_conn)
    assert_refused(kit_conn, statement, "pgaudit-kit")
    assert partitions(kit_conn) == before
    assert invariant_problems(kit_conn) == []


def test_no_table_of_forged_events_can_become_a_partition(kit_conn: Conn) -> None:
    """The partitions cover every id, MINVALUE to MAXVALUE (event_overflow): PostgreSQL refuses any other partition
    as overlapping, and the kit's guard refuses creating one in its schema; a range freed by detaching one is
    refused first (the detach)."""
    kit_conn.execute("CREATE TABLE public.forged (LIKE pgaudit_kit.event)")
    kit_conn.execute("INSERT INTO public.forged (id, xid, statement_ts, op) "
                     "VALUES (4611686018427387904, pg_current_xact_id(), now(), 'I')")
    for statement in ("ALTER TABLE pgaudit_kit.event ATTACH PARTITION public.forged "
                      "FOR VALUES FROM (4611686018427387904) TO (MAXVALUE)",
                      "CREATE TABLE pgaudit_kit.event_forged PARTITION OF pgaudit_kit.event "
                      "FOR VALUES FROM (4611686018427387904) TO (MAXVALUE)"):
        with pytest.raises(psycopg.errors.InvalidObjectDefinition, match="would overlap partition"):
            kit_conn.execute(statement)
    assert_refused(kit_conn, "CREATE TABLE pgaudit_kit.event_forged (LIKE pgaudit_kit.event)", "pgaudit-kit")
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
    spread_over_partitions(kit_conn, events_each=8, ahead=3)  # (4: the first starts at the next id)
    for i in range(20):
        kit_conn.execute("INSERT INTO t VALUES (%s)", (i,))
    result = cli("seal", dsn=kit_db)
    assert result.exit_code == 0 and "partitions of the event table ahead" in result.stdout, (result.stdout, result.stderr)
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
    for i in range(20, 40):
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


def test_a_reader_lists_the_partitions_and_creates_none(kit_conn: Conn, kit_db: str, cluster: Cluster) -> None:
    name = f"reader_{uuid.uuid4().hex[:8]}"
    with cluster.admin() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw' IN ROLE pgaudit_kit_reader").format(
            sql.Identifier(name)))
    try:
        dsn = with_params(kit_db, user=name, password="pw")
        listed = cli("partitions", "--format", "json", dsn=dsn)
        assert listed.exit_code == 0, listed.output
        report = json.loads(listed.stdout)
        assert report["created"] == 0
        assert [p["name"] for p in report["partitions"]] == ["event_p0", "event_p1", "event_p2", "event_overflow"]
        assert report["partitions"][1]["lower_id"] == 2**26 and report["partitions"][-1]["overflow"] is True
        text = cli("partitions", dsn=dsn)
        assert "listed only: creating partitions needs the admin role" in text.stdout, text.output
        refused = cli("partitions", "--width", "1000", dsn=dsn)
        assert refused.exit_code == 2 and "--width needs the admin role" in refused.stderr
    finally:
        with cluster.admin() as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.parametrize("mode", ["statement", "row"])
def test_new_partitions_are_sized_by_the_ids_events_take(kit_conn: Conn, kit_db: str, mode: str) -> None:
    """A single-row event takes 1,024 ids, a chunk of up to 1,024 events of a bulk statement 1,024 in all: the same
    range would hold a thousand times more bulk events. Each new partition is as wide as about 4,194,304 events
    take in this log, judged by the newest partition holding enough of them (counted, with no ANALYZE yet)."""
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    kit_conn.execute("SELECT pgaudit_kit.enable_table('t'::regclass, '{}', '{}', 'capture', false, %s)", (mode,))
    kit_conn.execute("INSERT INTO t SELECT generate_series(1, 12000)")  # chunks (statement) or 12,000 events (row)
    assert cli("seal", dsn=kit_db).exit_code == 0
    spent, rows = kit_conn.execute("SELECT max(id), (SELECT count(*) FROM pgaudit_kit.event_p0) "
                                   "FROM pgaudit_kit.event").fetchone() or (0, 0)
    assert kit_conn.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 3)").fetchone() == (1,)
    new = partitions(kit_conn)[-2]
    assert new[0] == "event_p3" and new[1] == 3 * 2**26 and new[2] is not None
    next_id = kit_conn.execute("SELECT last_value + 1024 FROM pgaudit_kit.event_id_seq").fetchone()
    assert next_id is not None
    # (the control event recording the new partition took the next id after it was sized)
    expected = round(4194304 * (next_id[0] - 1024) / rows) // 1024 * 1024
    assert abs((new[2] - new[1]) - max(expected, 2**20)) <= 1024, (new, expected, spent, rows)
    if mode == "statement":  # about one id an event (and the enrolment's own events): some ten million ids
        assert new[2] - new[1] < 2**24
    else:  # 1,024 ids an event: some four billion
        assert 2**31 < new[2] - new[1] < 2**33


def test_a_partition_of_more_rows_than_are_counted_is_analyzed_to_size_the_next(kit_conn: Conn, kit_db: str) -> None:
    """Rows are counted up to 100,000; a partition with more and no count from VACUUM or ANALYZE is analyzed, or
    the width would be as many times too wide as it has more rows (bench.scale: twenty)."""
    kit_conn.execute("ALTER SYSTEM SET autovacuum = off")  # so that nothing but the kit counts event_p0's rows
    kit_conn.execute("SELECT pg_reload_conf()")
    try:
        kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        enable(kit_conn, "t")  # statement capture: chunks of up to 1,024 events, about one id each
        kit_conn.execute("INSERT INTO t SELECT generate_series(1, 400000)")
        assert cli("seal", dsn=kit_db).exit_code == 0
        row = kit_conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'pgaudit_kit.event_p0'::regclass").fetchone()
        assert row is not None and row[0] < 100000  # no count yet
        rows = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event_p0").fetchone()
        assert rows is not None and rows[0] > 400000
        assert kit_conn.execute("SELECT pgaudit_kit.add_event_partitions(NULL, 3)").fetchone() == (1,)
        new = partitions(kit_conn)[-2]
        next_id = kit_conn.execute("SELECT last_value FROM pgaudit_kit.event_id_seq").fetchone()
        lower, upper = new[1], new[2]
        assert next_id is not None and lower is not None and upper is not None
        exact = 4194304 * next_id[0] / rows[0]
        assert 0.8 * exact < upper - lower < 1.25 * exact, (new, exact)  # ANALYZE's count is a sample's
    finally:
        kit_conn.execute("ALTER SYSTEM RESET autovacuum")
        kit_conn.execute("SELECT pg_reload_conf()")
