"""Where the shipped SQL sources, Alembic scripts and shipped-function records live, and the declared order
in which the SQL sources build the kit's schema.

In a wheel they are the sub-packages ``pgaudit_kit/sql`` and ``pgaudit_kit/migrations``; in a source
checkout they are the top-level ``sql/`` and ``migrations/`` folders. Both layouts are supported so the
test suite exercises the very files that get shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # pgaudit_kit/

# Kinds of SQL source (sql/ORDER): "create" sources run on a fresh install only; "apply" sources are
# idempotent and run again after every upgrade.
CREATE = "create"
APPLY = "apply"


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"pgaudit-kit is incomplete: no {name}/ folder beside {_PACKAGE_DIR}")


def sql_dir() -> Path:
    return _locate("sql")


def migrations_dir() -> Path:
    return _locate("migrations")


def shipped_dir() -> Path:
    """One generated JSON record per Alembic revision of the kit functions it shipped (see shipped.py)."""
    return _PACKAGE_DIR / "shipped_functions"


def read_sql(relative: str) -> str:
    """Text of one shipped SQL source, e.g. ``read_sql("functions/seal.sql")``."""
    return (sql_dir() / relative).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Source:
    kind: str  # CREATE or APPLY
    path: str  # relative to sql/


def sources() -> list[Source]:
    """The SQL sources of the current schema in the order sql/ORDER declares."""
    found: list[Source] = []
    for number, line in enumerate(read_sql("ORDER").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, path = line.partition(" ")
        if kind not in (CREATE, APPLY) or not path.strip():
            raise ValueError(f"sql/ORDER line {number}: expected 'create PATH' or 'apply PATH', got {line!r}")
        found.append(Source(kind, path.strip()))
    return found
