"""Revision 0006: one commit-time trigger. pgaudit_kit.seal_at_commit() also notifies watchers, and v4's
notify trigger and function are gone; an upgrade from 0005 removes them."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from pgaudit_kit.pg.db import connector
from pgaudit_kit.schema import installer
from pgaudit_kit.schema.revisions import head_revision
from tests.support.helpers import cli, enable
from tests.support.released import install_released

NOTIFY_TRIGGER = "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'pgaudit_kit_notify_watchers'"
NOTIFY_FUNCTION = ("SELECT p.proowner::regrole::text, has_function_privilege('public', p.oid, 'EXECUTE') "
                   "FROM pg_proc p WHERE p.oid = to_regprocedure('pgaudit_kit.notify_watchers()')")


def notifications_of_one_watched_commit(dsn: str, value: int) -> list[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as listener, psycopg.connect(dsn, autocommit=True) as writer:
        listener.execute("LISTEN pgaudit_kit_events")
        assert writer.execute("SELECT pgaudit_kit.renew_watch_lease(30)").fetchone() == (True,)
        writer.execute("SELECT pg_sleep(0.15)")  # past the 100 ms rate limit of an earlier notification
        writer.execute("INSERT INTO t VALUES (%s)", (value,))
        return [(n.channel, n.payload) for n in listener.notifies(timeout=2, stop_after=1)]


def verify_findings(dsn: str) -> list[Any]:
    result = cli("verify", "--full", "--format", "json", dsn=dsn)
    return [(f["kind"], f.get("object")) for f in json.loads(result.stdout)["findings"]]


def test_the_sealing_trigger_notifies_and_the_notify_trigger_is_gone(kit_db: str) -> None:
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        enable(conn, "t")
        assert conn.execute(NOTIFY_TRIGGER).fetchall() == []
        assert conn.execute(NOTIFY_FUNCTION).fetchall() == []
    assert notifications_of_one_watched_commit(kit_db, 1) == [("pgaudit_kit_events", "")]
    with psycopg.connect(kit_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'I'").fetchone() == (1,)
    assert verify_findings(kit_db) == []  # notify_watchers() is no longer a function the kit ships


def test_upgrade_from_0005_drops_the_notify_trigger(empty_db: str) -> None:
    kit_db = empty_db
    install_released(kit_db, "0005")
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        enable(conn, "t")
        assert conn.execute(NOTIFY_TRIGGER).fetchall() == [("A",)]
        assert conn.execute(NOTIFY_FUNCTION).fetchall() == [("pgaudit_kit_owner", False)]
        sealing: Any = conn.execute("SELECT prosrc FROM pg_proc WHERE oid = 'pgaudit_kit.seal_at_commit()'::regprocedure"
                                    ).fetchone()
        assert "pg_notify" not in sealing[0]  # v2's: the notify trigger notifies
        capture: Any = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'capture_' || 't'::regclass::oid"
                                    ).fetchone()
        assert "jsonb_build_object" in capture[0] and "jsonb_object(" not in capture[0]
        assert conn.execute("SELECT * FROM pgaudit_kit.invariant_problems()").fetchall() == []
    assert notifications_of_one_watched_commit(kit_db, 2) == [("pgaudit_kit_events", "")]
    result = installer.install(connector(kit_db))
    assert (result.before, result.after) == ("0005", head_revision())
    with psycopg.connect(kit_db, autocommit=True) as conn:
        assert conn.execute(NOTIFY_TRIGGER).fetchall() == []
        capture = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'capture_' || 't'::regclass::oid").fetchone()
        assert "jsonb_object(" in capture[0] and "jsonb_build_object" not in capture[0]
    assert notifications_of_one_watched_commit(kit_db, 3) == [("pgaudit_kit_events", "")]
    assert verify_findings(kit_db) == []
