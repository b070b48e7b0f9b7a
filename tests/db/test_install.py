"""`pgaudit-kit install`, `status`, `uninstall` and `install --sql`."""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

import psycopg
import pytest

from pgaudit_kit.pg.catalog import schema_snapshot
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer
from pgaudit_kit.schema.revisions import head_revision
from tests.support.cluster import Cluster
from tests.support.helpers import cli

USER_OBJECTS = """
CREATE SCHEMA app;
CREATE TABLE app.items (id int PRIMARY KEY, name text);
CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO public.alembic_version VALUES ('userrev123');
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER items_touch BEFORE UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE FUNCTION app.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
CREATE EVENT TRIGGER app_ddl ON ddl_command_end EXECUTE FUNCTION app.on_ddl();
INSERT INTO app.items VALUES (1, 'one');
"""

USER_STATE = {
    "schemas": "SELECT array_agg(nspname::text ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
               " AND nspname NOT IN ('pgaudit_kit', 'pgaudit_kit_guard')",
    "alembic": "SELECT array_agg(version_num ORDER BY version_num) FROM public.alembic_version",
    "tables": "SELECT array_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text) FROM pg_class c WHERE relnamespace IN ('app'::regnamespace, 'public'::regnamespace)",
    "triggers": "SELECT array_agg(tgname::text || ':' || tgenabled::text ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal"
                " AND tgrelid NOT IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgaudit_kit')",
    "event_triggers": "SELECT array_agg(evtname::text || ':' || evtenabled::text ORDER BY evtname) FROM pg_event_trigger WHERE evtname NOT LIKE 'pgaudit\\_kit%'",
    "rows": "SELECT array_agg(name ORDER BY id) FROM app.items",
    "functions": "SELECT array_agg(p.oid::regprocedure::text || md5(prosrc) ORDER BY p.oid::regprocedure::text) FROM pg_proc p WHERE pronamespace = 'app'::regnamespace",
}


def _user_state(dsn: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchone() for name, query in USER_STATE.items()}


def test_install_creates_versioned_schema_and_leaves_user_objects_alone(empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(USER_OBJECTS)
    before = _user_state(empty_db)
    result = cli("install", dsn=empty_db)
    assert result.exit_code == 0, result.stderr
    assert "installed" in result.stdout
    assert _user_state(empty_db) == before
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT version_num FROM pgaudit_kit.alembic_version").fetchone() == (head_revision(),)
        assert conn.execute("SELECT version_num FROM public.alembic_version").fetchone() == ("userrev123",)
        roles = conn.execute(
            "SELECT array_agg(rolname::text ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'pgaudit\\_kit\\_%'"
        ).fetchone()
        assert roles == (["pgaudit_kit_admin", "pgaudit_kit_owner", "pgaudit_kit_reader"],)
        owner = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'pgaudit_kit'").fetchone()
        assert owner == ("pgaudit_kit_owner",)
        # the user's own event trigger still fires, and so do ours
        states: dict[str, str] = dict(conn.execute("SELECT evtname::text, evtenabled::text FROM pg_event_trigger").fetchall())
        assert states.pop("app_ddl") == "O"
        assert {"pgaudit_kit_ddl_command_end", "pgaudit_kit_sql_drop", "pgaudit_kit_check_ddl", "pgaudit_kit_guard_drop",
                "pgaudit_kit_refuse_guard_drop"} <= set(states)
        assert all(name.startswith("pgaudit_kit_") and state == "A" for name, state in states.items()), states


def test_second_install_is_a_no_op(kit_db: str) -> None:
    with psycopg.connect(kit_db) as conn:
        before = schema_snapshot(conn)
        install_id = conn.execute("SELECT install_id FROM pgaudit_kit.install").fetchone()
    result = cli("install", dsn=kit_db)
    assert result.exit_code == 0
    assert "nothing to do" in result.stdout
    with psycopg.connect(kit_db) as conn:
        assert schema_snapshot(conn) == before
        assert conn.execute("SELECT install_id FROM pgaudit_kit.install").fetchone() == install_id


def test_two_installs_at_once_end_with_one_install(empty_db: str) -> None:
    outcomes: list[Any] = []

    def run() -> None:
        try:
            outcomes.append(installer.install(connector(empty_db)))
        except Exception as exc:  # surfaced by the assertion below
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(o, installer.InstallResult) for o in outcomes), outcomes
    assert sorted(o.changed for o in outcomes) == [False, False, True]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.install").fetchone() == (1,)


def test_install_tolerates_roles_from_another_database(cluster: Cluster, empty_db: str) -> None:
    # The template database of this suite already created the roles: this install must reuse them.
    with cluster.admin() as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgaudit\\_kit\\_%'").fetchone() == (3,)
    assert cli("install", dsn=empty_db).exit_code == 0


def test_install_sql_prints_and_changes_nothing(cluster: Cluster, empty_db: str) -> None:
    result = cli("install", "--sql", dsn=empty_db)
    assert result.exit_code == 0
    assert "CREATE TABLE pgaudit_kit.event" in result.stdout
    assert "CREATE EVENT TRIGGER" in result.stdout and "'pgaudit_kit_ddl_command_end'" in result.stdout
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regnamespace('pgaudit_kit')").fetchone() == (None,)
    # The printed script is complete: psql applies it, and the result equals a normal install.
    assert cluster.server is not None
    applied = subprocess.run(
        [cluster.server.tool("psql"), "-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", empty_db],
        input=result.stdout, capture_output=True, text=True, check=False,
    )
    assert applied.returncode == 0, applied.stderr
    reference = cluster.create_database("pgaudit_kit_test_tpl_installed")
    try:
        with psycopg.connect(empty_db) as a, psycopg.connect(cluster.dsn(reference)) as b:
            assert schema_snapshot(a) == schema_snapshot(b)
            assert a.execute("SELECT version_num FROM pgaudit_kit.alembic_version").fetchone() == \
                (head_revision(),)
    finally:
        cluster.drop_database(reference)


def test_install_sql_says_on_stderr_when_it_cannot_reach_the_server() -> None:
    """The script for a database without the kit is still printed (for review), with a note why on stderr."""
    result = cli("install", "--sql", dsn="host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2")
    assert result.exit_code == 0 and "CREATE TABLE pgaudit_kit.event" in result.stdout
    assert result.stderr.startswith("pgaudit-kit: note: cannot connect") and "whole install" in result.stderr


def test_install_sql_on_current_database_has_nothing_to_run(kit_db: str) -> None:
    result = cli("install", "--sql", dsn=kit_db)
    assert result.exit_code == 0
    assert "nothing to run" in result.stdout


def test_status_reports_revisions_and_server(kit_db: str, cluster: Cluster) -> None:
    result = cli("status", "--format", "json", dsn=kit_db)
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["installed_revision"] == head_revision()
    assert report["newest_revision"] == head_revision()
    assert report["server_version"].startswith(str(cluster.major))
    assert report["enrolled_tables"] == []
    assert report["problems"] == []
    text = cli("status", dsn=kit_db)
    assert text.exit_code == 0
    assert "problems:           none" in text.stdout


def test_status_on_database_without_kit_exits_3(empty_db: str) -> None:
    result = cli("status", "--format", "json", dsn=empty_db)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["installed_revision"] is None


def test_uninstall_refuses_while_history_exists(kit_conn: psycopg.Connection[Any], kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY); SELECT pgaudit_kit.enable_table('t'); INSERT INTO t VALUES (1)")
    result = cli("uninstall", dsn=kit_db)
    assert result.exit_code == 2
    assert "--discard-history" in result.stderr and "recorded audit events" in result.stderr
    assert kit_conn.execute("SELECT to_regnamespace('pgaudit_kit') IS NOT NULL").fetchone() == (True,)
    result = cli("uninstall", "--discard-history", dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    assert kit_conn.execute("SELECT to_regnamespace('pgaudit_kit')").fetchone() == (None,)
    assert kit_conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname::text LIKE 'pgaudit\\_kit%'").fetchone() == (0,)
    assert kit_conn.execute("SELECT count(*) FROM pg_event_trigger WHERE evtname::text LIKE 'pgaudit\\_kit%'").fetchone() == (0,)
    # the table and its data stay, writes work without the kit
    kit_conn.execute("INSERT INTO t VALUES (2)")
    assert kit_conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    # other databases of the cluster still use the roles, so they are kept, and the message names them
    assert "roles kept" in result.stdout and "pgaudit_kit_test_tpl_installed" in result.stdout, result.stdout
    # but nothing the kit granted stays behind in this database: not the owner's SELECT on the audited table
    assert kit_conn.execute("SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a JOIN pg_roles r "
                            "ON r.oid = a.grantee WHERE r.rolname LIKE 'pgaudit\\_kit\\_%'").fetchone() == (0,)


def test_uninstall_without_history_needs_no_flag_and_drops_unused_roles() -> None:
    with TempServer() as server:
        dsn = server.dsn()
        installer.install(connector(dsn))
        result = cli("uninstall", dsn=dsn)
        assert result.exit_code == 0, result.stderr
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgaudit\\_kit\\_%'").fetchone() == (0,)
        # and it installs again cleanly afterwards
        assert installer.install(connector(dsn)).changed


def test_uninstall_when_not_installed_exits_3(empty_db: str) -> None:
    assert cli("uninstall", dsn=empty_db).exit_code == 3


@pytest.mark.parametrize("command", [["install"], ["uninstall", "--discard-history"]])
def test_commands_needing_superuser_refuse_ordinary_roles(cluster: Cluster, kit_db: str, command: list[str]) -> None:
    with cluster.admin() as conn:
        conn.execute("DROP ROLE IF EXISTS kit_admin_only")
        conn.execute("CREATE ROLE kit_admin_only LOGIN PASSWORD 'pw' IN ROLE pgaudit_kit_admin")
    try:
        from tests.support.helpers import with_params

        result = cli(*command, dsn=with_params(kit_db, user="kit_admin_only", password="pw"))
        assert result.exit_code == 3
        assert "superuser" in result.stderr
    finally:
        with cluster.admin() as conn:
            conn.execute("DROP ROLE kit_admin_only")
