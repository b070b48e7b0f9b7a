"""Small helpers shared by tests (imported as ``helpers``)."""

from __future__ import annotations

from typing import Any

import psycopg
from click.testing import CliRunner, Result
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from pgaudit_kit.cli import main


def cli(*args: str, dsn: str | None = None, input: str | None = None) -> Result:
    """Run the CLI in-process; stdout and stderr are kept apart."""
    argv = (["--dsn", dsn] if dsn is not None else []) + list(args)
    return CliRunner().invoke(main, argv, input=input, catch_exceptions=False)


def events(conn: psycopg.Connection[Any], where: str = "operation IN ('INSERT','UPDATE','DELETE','TRUNCATE')") -> list[dict[str, Any]]:
    """Recorded changes from pgaudit_kit.change, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT * FROM pgaudit_kit.change WHERE {where} ORDER BY id")
        return list(cur.fetchall())


def enable(conn: psycopg.Connection[Any], table: str, **options: Any) -> None:
    conn.execute(
        "SELECT pgaudit_kit.enable_table(%s::regclass, %s, %s, %s, %s)",
        (table, options.get("exclude", []), options.get("redact", []), options.get("truncate", "capture"),
         options.get("statement", False)),
    )


def with_params(dsn: str, **overrides: Any) -> str:
    """*dsn* with some connection parameters replaced (user, password, dbname ...)."""
    params = conninfo_to_dict(dsn)
    params.update(overrides)
    return make_conninfo("", **params)
