"""The server under test, as the fixtures in ``tests/conftest.py`` hand it to tests, and the template
databases each test's database is copied from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgaudit_kit.pg.tempserver import TempServer

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
