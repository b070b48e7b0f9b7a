"""Test harness: one throwaway PostgreSQL per session (unless PGAUDIT_KIT_TEST_DSN names a server),
and a fresh database per test, copied from prepared templates so tests never depend on each other.

PGAUDIT_KIT_TEST_DSN must name a superuser connection to a server the suite may create databases on.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgaudit_kit import installer
from pgaudit_kit.errors import KitError
from pgaudit_kit.tempserver import TempServer

TEMPLATE_EMPTY = "pgaudit_kit_test_tpl_empty"
TEMPLATE_INSTALLED = "pgaudit_kit_test_tpl_installed"


@dataclass
class Cluster:
    """The server under test: an admin DSN plus, when we started it, the TempServer itself."""

    admin_dsn: str
    server: TempServer | None
    major: int

    def dsn(self, dbname: str, **overrides: Any) -> str:
        params = conninfo_to_dict(self.admin_dsn)
        params["dbname"] = dbname
        params.update(overrides)
        return make_conninfo("", **params)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def create_database(self, template: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


_cluster: Cluster | None = None


def _prepare_templates(cluster: Cluster) -> None:
    with cluster.admin() as conn:
        for name in (TEMPLATE_EMPTY, TEMPLATE_INSTALLED):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    installer.install(cluster.dsn(TEMPLATE_INSTALLED))


def pytest_sessionstart(session: pytest.Session) -> None:
    global _cluster
    # An interrupted run (Ctrl-C, CI timeout's SIGTERM) must still stop the server: turn SIGTERM into
    # KeyboardInterrupt so pytest unwinds and pytest_sessionfinish runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    dsn = os.environ.get("PGAUDIT_KIT_TEST_DSN")
    server: TempServer | None = None
    try:
        if not dsn:
            server = TempServer().start()
            dsn = server.dsn()
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()
        _cluster = Cluster(admin_dsn=dsn, server=server, major=int(row[0]) if row else 0)
        _prepare_templates(_cluster)
    except (KitError, psycopg.Error) as exc:
        if server:
            server.stop()
        pytest.exit(f"test PostgreSQL server unavailable: {exc}", returncode=3)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _cluster and _cluster.server:
        _cluster.server.stop()


def pytest_report_header(config: pytest.Config) -> str:
    if _cluster is None:
        return "postgres: not started"
    where = f"throwaway server ({_cluster.server.bindir})" if _cluster.server else "PGAUDIT_KIT_TEST_DSN"
    return f"postgres: {_cluster.major} via {where}"


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    assert _cluster is not None, "server was not started"
    return _cluster


@pytest.fixture
def empty_db(cluster: Cluster) -> Iterator[str]:
    """DSN of a new database without the kit."""
    name = cluster.create_database(TEMPLATE_EMPTY)
    yield cluster.dsn(name)
    cluster.drop_database(name)


@pytest.fixture
def kit_db(cluster: Cluster) -> Iterator[str]:
    """DSN of a new database with the kit installed at the newest revision."""
    name = cluster.create_database(TEMPLATE_INSTALLED)
    yield cluster.dsn(name)
    cluster.drop_database(name)


@pytest.fixture
def kit_conn(kit_db: str) -> Iterator[psycopg.Connection[Any]]:
    """Autocommit superuser connection to a fresh kit database."""
    with psycopg.connect(kit_db, autocommit=True) as conn:
        yield conn
