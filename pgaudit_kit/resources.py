"""Where the shipped SQL sources and Alembic scripts live.

In a wheel they are the sub-packages ``pgaudit_kit/sql`` and ``pgaudit_kit/migrations``; in a source
checkout they are the top-level ``sql/`` and ``migrations/`` folders. Both layouts are supported so the
test suite exercises the very files that get shipped.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"pgaudit-kit is incomplete: no {name}/ folder beside {_PACKAGE_DIR}")


def sql_dir() -> Path:
    return _locate("sql")


def migrations_dir() -> Path:
    return _locate("migrations")


def read_sql(relative: str) -> str:
    """Text of one shipped SQL file, e.g. ``read_sql("v1/tables/event.sql")``."""
    return (sql_dir() / relative).read_text(encoding="utf-8")
