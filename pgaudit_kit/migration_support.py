"""Helpers the Alembic scripts in ``migrations/`` call: they apply shipped SQL files verbatim.

Online, each file goes straight to psycopg (no SQLAlchemy parameter parsing, which would mangle
``format('%I')`` or ``'a:b'``); offline (``install --sql``) it is written to the output as-is.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import context, op

from .resources import read_sql


def run_sql_files(paths: Iterable[str]) -> None:
    for path in paths:
        text = read_sql(path)
        if context.is_offline_mode():
            context.get_context().impl.static_output(f"-- {path}\n{text.rstrip()}\n")
        else:
            op.get_bind().connection.driver_connection.execute(text)  # type: ignore[union-attr]
