"""An upgrade replaces kit functions and regenerates the capture functions. Over a function a superuser
changed behind the kit's back, that would erase the evidence, so `install` refuses the upgrade (exit 1,
naming each function) until told --overwrite-drift, and then records what it overwrote, with its
source, in the audit log in the same transaction."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from pgaudit_kit.pg.db import connector
from pgaudit_kit.schema import installer, shipped
from pgaudit_kit.schema.revisions import head_revision
from tests.support.helpers import cli, enable, guards_off
from tests.support.released import RELEASED_REVISIONS, install_released

HOLLOW_CAPTURE = "BEGIN RETURN NULL; END"  # a capture function that records nothing
HOLLOW_SEALING = "BEGIN RETURN NULL; END"  # commit-time sealing that never seals


def revision(conn: psycopg.Connection[Any]) -> Any:
    return conn.execute("SELECT version_num FROM pgaudit_kit.alembic_version").fetchone()


def source(conn: psycopg.Connection[Any], function: str) -> Any:
    row = conn.execute("SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(%s)", (function + "()",)).fetchone()
    return row[0] if row else None


def test_records_of_an_older_revision_are_what_it_shipped() -> None:
    at_0005, head = shipped.load("0005"), shipped.load(head_revision())
    assert "pgaudit_kit.notify_watchers" in at_0005 and "pgaudit_kit.notify_watchers" not in head  # 0006 drops it
    assert at_0005["pgaudit_kit.seal_at_commit"].source_sha256 != head["pgaudit_kit.seal_at_commit"].source_sha256
    assert at_0005["pgaudit_kit.seal"] == shipped.load("0006")["pgaudit_kit.seal"]  # unchanged by 0006
    assert "pgaudit_kit.invariant_problems" not in shipped.load("0002")  # revision 0003 adds it


def test_upgrade_over_tampered_functions_is_refused_then_recorded_when_overwritten(empty_db: str) -> None:
    kit_db = empty_db
    install_released(kit_db, "0005")
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        enable(conn, "t")
        capture = "pgaudit_kit.capture_" + str(conn.execute("SELECT 't'::regclass::oid").fetchone()[0])  # type: ignore[index]
        with guards_off(conn):
            conn.execute(f"CREATE OR REPLACE FUNCTION {capture}() RETURNS trigger LANGUAGE plpgsql "
                         f"SECURITY DEFINER SET search_path = '' AS $$ {HOLLOW_CAPTURE} $$")
            conn.execute("CREATE OR REPLACE FUNCTION pgaudit_kit.seal_at_commit() RETURNS trigger LANGUAGE plpgsql "
                         f"SECURITY DEFINER SET search_path = '' AS $$ {HOLLOW_SEALING} $$")
        conn.execute("INSERT INTO t VALUES (1)")  # unrecorded while the capture function is hollow

    refused = cli("install", dsn=kit_db)
    assert refused.exit_code == 1, refused.output
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "refusing to upgrade from revision 0005" in message and "--overwrite-drift" in message
    assert capture in message and "pgaudit_kit.seal_at_commit" in message
    with psycopg.connect(kit_db, autocommit=True) as conn:  # nothing changed: the evidence is still there
        assert revision(conn) == ("0005",)
        assert source(conn, capture).strip() == HOLLOW_CAPTURE
        assert source(conn, "pgaudit_kit.seal_at_commit").strip() == HOLLOW_SEALING
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE row_data->>'action' = 'overwrite_drift'"
                            ).fetchone() == (0,)

    done = cli("install", "--overwrite-drift", dsn=kit_db)
    assert done.exit_code == 0, done.output
    assert f"{capture}, capture of public.t, is not the one the kit generates" in done.stdout
    with psycopg.connect(kit_db, autocommit=True) as conn:
        assert revision(conn) == (head_revision(),)
        assert source(conn, capture).strip() != HOLLOW_CAPTURE
        assert shipped.source_digest(source(conn, "pgaudit_kit.seal_at_commit")) == \
            shipped.load(head_revision())["pgaudit_kit.seal_at_commit"].source_sha256
        (details,) = conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'K' "
                                  "AND row_data->>'action' = 'overwrite_drift'").fetchone()  # type: ignore[misc]
        conn.execute("INSERT INTO t VALUES (2)")
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'I'").fetchone() == (1,)
    assert (details["from_revision"], details["to_revision"]) == ("0005", head_revision())
    found = {d["object"]: (d["kind"], d["found_source"].strip()) for d in details["drift"]}
    assert found == {"pgaudit_kit.seal_at_commit": ("coverage_function_modified", HOLLOW_SEALING),
                     capture: ("coverage_capture_modified", HOLLOW_CAPTURE)}
    report = cli("verify", "--full", "--format", "json", dsn=kit_db)
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["findings"] == []


@pytest.mark.parametrize("older", RELEASED_REVISIONS)
def test_upgrade_of_an_intact_kit_records_no_drift(empty_db: str, older: str) -> None:
    """No false alarm from any released revision: what each one installed is what its record says."""
    kit_db = empty_db
    install_released(kit_db, older)
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
        enable(conn, "t")
    result = installer.install(connector(kit_db))
    assert (result.before, result.overwritten) == (older, [])
    with psycopg.connect(kit_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE row_data->>'action' = 'overwrite_drift'"
                            ).fetchone() == (0,)
