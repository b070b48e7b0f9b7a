"""Revision 0004 (review indexes, watch notifications) applied to a database that already has history:
online through `install` (inside the recorded maintenance window it opens) and offline through
`install --sql`; the history recorded before the upgrade is then found by the review commands."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from pgaudit_kit.pg.db import connector
from pgaudit_kit.schema import installer
from pgaudit_kit.schema.revisions import head_revision
from tests.support.helpers import cli, enable
from tests.support.released import install_released

# the review objects at the newest revision (0014 made 0004's two BRIN indexes one)
V4_OBJECTS = ("event_relid_time_brin", "event_row_idx", "event_ddl_control_idx", "transaction_context_idx",
              "transaction_actor_idx", "transaction_acting_role_idx", "transaction_set_role_idx", "watch_lease",
              "watch_notified")


def v4_objects(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT relname::text FROM pg_class WHERE relnamespace = 'pgaudit_kit'::regnamespace "
                            "AND relname = ANY(%s)", (list(V4_OBJECTS),)).fetchall()
        trigger = conn.execute("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'pgaudit_kit_notify_watchers'"
                               ).fetchone()
    return {str(r[0]) for r in rows} | ({f"trigger:{trigger[0]}"} if trigger else set())


def history_at_0003(dsn: str) -> None:
    install_released(dsn, "0003")
    assert v4_objects(dsn) == set()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        enable(conn, "t")
        with conn.transaction():
            conn.execute("SELECT set_config('pgaudit_kit.actor', 'alice', true), "
                         "set_config('pgaudit_kit.context', '{\"request_id\": \"r-9\"}', true)")
            conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        conn.execute("UPDATE t SET v = 'c' WHERE id = 1")


def check_history_is_served(dsn: str) -> None:
    # no notify trigger at the newest revision: since 0006 the sealing trigger notifies (test_commit_trigger)
    assert v4_objects(dsn) == set(V4_OBJECTS)
    result = cli("log", "--actor", "alice", "--context", "request_id=r-9", "--format", "jsonl", dsn=dsn)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["pk"] for line in result.stdout.splitlines()] == [{"id": "2"}, {"id": "1"}]
    history = json.loads(cli("history", "t", "1", "--format", "json", dsn=dsn).stdout)
    assert [e["op"] for e in history["events"] if e["op"] != "S"] == ["I", "U"]


def test_online_upgrade_with_history(empty_db: str) -> None:
    kit_db = empty_db
    history_at_0003(kit_db)
    result = installer.install(connector(kit_db))
    assert (result.before, result.after) == ("0003", head_revision())
    check_history_is_served(kit_db)
    with psycopg.connect(kit_db) as conn:
        windows = conn.execute("SELECT e.row_data->>'reason' FROM pgaudit_kit.event e JOIN pgaudit_kit.maintenance m "
                               "ON m.xid = e.xid WHERE e.op = 'K' AND e.row_data->>'action' = 'maintenance' "
                               "ORDER BY e.id DESC LIMIT 1").fetchall()
    assert windows and "revision 0004" in str(windows[0][0])  # the upgrade is in the log, with its window


def test_offline_upgrade_with_history(empty_db: str) -> None:
    kit_db = empty_db
    history_at_0003(kit_db)
    script = installer.install_sql("0003")
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute(script)  # what `psql -f` of `install --sql` does
    check_history_is_served(kit_db)


def test_fresh_install_records_no_history(empty_db: str) -> None:
    installer.install(connector(empty_db))
    with psycopg.connect(empty_db) as conn:
        counts: Any = conn.execute("SELECT (SELECT count(*) FROM pgaudit_kit.event), "
                                   "(SELECT count(*) FROM pgaudit_kit.transaction)").fetchone()
    assert counts == (0, 0)  # nothing to protect yet: no control event, uninstall needs no --discard-history
    assert cli("uninstall", dsn=empty_db).exit_code == 0
