"""Test harness: one throwaway PostgreSQL per session (unless PGAUDIT_KIT_TEST_DSN names a server),
started only when a selected test needs a database, and a fresh database per test, copied from prepared
templates so tests never depend on each other.

PGAUDIT_KIT_TEST_DSN must name a superuser connection to a server the suite may create databases on.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgaudit_kit.core.errors import KitError
from pgaudit_kit.pg.db import connector
from pgaudit_kit.pg.tempserver import TempServer
from pgaudit_kit.schema import installer
from tests.support.cluster import TEMPLATE_EMPTY, TEMPLATE_INSTALLED, Cluster

_cluster: Cluster | None = None


def _prepare_templates(cluster: Cluster) -> None:
    with cluster.admin() as conn:
        for name in (TEMPLATE_EMPTY, TEMPLATE_INSTALLED):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    installer.install(connector(cluster.dsn(TEMPLATE_INSTALLED)))


def _start_cluster() -> Cluster:
    global _cluster
    if _cluster is not None:
        return _cluster
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
    return _cluster


def pytest_sessionstart(session: pytest.Session) -> None:
    # An interrupted run (Ctrl-C, CI timeout's SIGTERM) must still stop the server: turn SIGTERM into
    # KeyboardInterrupt so pytest unwinds and pytest_sessionfinish runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the server once the tests are known, and only if one of them needs it (tests/unit need none)."""
    if session.config.option.collectonly:
        return
    if any("cluster" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_cluster()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _cluster and _cluster.server:
        _cluster.server.stop()


def pytest_report_collectionfinish(config: pytest.Config) -> str:
    if _cluster is None:
        return "postgres: not started (no selected test needs it)"
    where = f"throwaway server ({_cluster.server.bindir})" if _cluster.server else "PGAUDIT_KIT_TEST_DSN"
    return f"postgres: {_cluster.major} via {where}"


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return _start_cluster()


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
