"""Where the shipped SQL sources and Alembic scripts live.

In a wheel they are the sub-packages ``pgaudit_kit/sql`` and ``pgaudit_kit/migrations``; in a source
checkout they are the top-level ``sql/`` and ``migrations/`` folders. Both layouts are supported so the
test suite exercises the very files that get shipped.
"""

from __future__ import annotations

import re
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


# A function of the kit as the shipped SQL sources define it: qualified name (group 1), dollar-quote tag (2)
# and body (3). Coverage compares the bodies with the database's; a downgrade re-runs whole definitions.
FUNCTION_DEFINITION = re.compile(
    r"CREATE (?:OR REPLACE )?FUNCTION (pgaudit_kit(?:_guard)?\.\w+)\(.*?\bAS (\$\w*\$)(.*?)\2", re.S)
# A later revision's removal of one: its qualified name (group 1). A statement, not a comment line.
FUNCTION_DROP = re.compile(r"^DROP FUNCTION (?:IF EXISTS )?(pgaudit_kit(?:_guard)?\.\w+)\(", re.M)
