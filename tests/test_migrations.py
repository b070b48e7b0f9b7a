"""Migration hygiene: the Alembic route and the SQL sources build the same schema, and revisions
go up, down and up again."""

from __future__ import annotations

import re

import psycopg
from conftest import Cluster

from pgaudit_kit import installer
from pgaudit_kit.catalog import schema_snapshot
from pgaudit_kit.coverage import shipped_function_bodies, shipped_function_grantees
from pgaudit_kit.resources import read_sql, sql_dir


def manifest() -> list[str]:
    lines = (sql_dir() / "MANIFEST").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_manifest_lists_every_sql_source() -> None:
    shipped = {str(p.relative_to(sql_dir())) for p in sql_dir().rglob("*.sql")}
    downgrades = {p for p in shipped if p.endswith("downgrade.sql")}
    assert set(manifest()) == shipped - downgrades


def test_schema_from_migrations_equals_schema_from_sql_sources(cluster: Cluster, kit_db: str, empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        for path in manifest():
            conn.execute(read_sql(path))
    with psycopg.connect(kit_db) as migrated, psycopg.connect(empty_db) as from_sources:
        a, b = schema_snapshot(migrated), schema_snapshot(from_sources)
        for key in a:
            assert a[key] == b[key], f"{key} differs between migrations and sql/"


def test_upgrade_downgrade_upgrade(kit_db: str) -> None:
    with psycopg.connect(kit_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY); SELECT pgaudit_kit.enable_table('t')")
        before = schema_snapshot(conn)
    installer.downgrade(kit_db, "base")
    with psycopg.connect(kit_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.alembic_version").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'pgaudit_kit'::regnamespace AND relname <> 'alembic_version'"
            " AND relname NOT LIKE 'alembic_version%'"
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'pgaudit_kit'::regnamespace").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass").fetchone() == (0,)
        conn.execute("INSERT INTO t VALUES (1)")  # writes work with the kit gone
    result = installer.install(kit_db)
    assert result.before is None and result.changed
    with psycopg.connect(kit_db) as conn:
        after = schema_snapshot(conn)
    # the enrolment did not survive the downgrade (its capture function is gone); everything else is equal
    assert {k: v for k, v in after.items() if k != "functions"} == {k: v for k, v in before.items() if k != "functions"}
    assert [f for f in before["functions"] if not re.fullmatch(r"pgaudit_kit\.capture_\d+\(\)", f[0])] == after["functions"]


def test_shipped_grants_are_read_from_the_sql_sources() -> None:
    """verify's privilege check compares with these: a function starts executable by PUBLIC, REVOKE and
    GRANT change that, a later revision's DROP removes it."""
    grantees = shipped_function_grantees()
    assert grantees["pgaudit_kit.seal"] == {"pgaudit_kit_admin"}
    assert grantees["pgaudit_kit.record_review"] == {"pgaudit_kit_admin", "pgaudit_kit_reader"}
    assert grantees["pgaudit_kit.enable_table"] == {"pgaudit_kit_admin", "pgaudit_kit_owner"}
    assert grantees["pgaudit_kit.begin_maintenance"] == set()
    assert grantees["pgaudit_kit.in_maintenance"] == {"PUBLIC"}
    assert "pgaudit_kit.notify_watchers" not in grantees  # revision 0006 drops it
    assert set(grantees) == set(shipped_function_bodies())
