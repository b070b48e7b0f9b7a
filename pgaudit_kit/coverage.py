"""Coverage: is capture still in place exactly as shipped? Reads the catalog, returns findings.

The invariants (every enrolled table has its capture function, as generated, and its capture triggers
enabled ALWAYS; the guard, sealing and event triggers are in place; nobody else may write the kit's
tables) come from pgaudit_kit.invariant_problems(), the same check the DDL guard runs at commit. On top
of that, every function in the kit's schemas must be identical to the shipped SQL, and no unknown
function may hide there.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import psycopg

from .catalog import capture_problems
from .resources import sql_dir
from .verification import Finding, Findings

_FUNCTION = re.compile(
    r"CREATE (?:OR REPLACE )?FUNCTION (pgaudit_kit(?:_guard)?\.\w+)\(.*?\bAS (\$\w*\$)(.*?)\2", re.S)
_CAPTURE = re.compile(r"pgaudit_kit\.capture_\d+")


@cache
def shipped_function_bodies() -> dict[str, str]:
    """Qualified function name -> body, from the SQL sources of the current schema (later files win)."""
    bodies: dict[str, str] = {}
    for line in (sql_dir() / "MANIFEST").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            for match in _FUNCTION.finditer((sql_dir() / line.strip()).read_text()):
                bodies[match.group(1)] = match.group(3)
    return bodies


def check(conn: psycopg.Connection[Any], findings: Findings) -> None:
    for problem in capture_problems(conn):
        findings.add(Finding(problem.kind, problem.message, object=problem.object))
    shipped = shipped_function_bodies()
    rows = conn.execute(
        "SELECT p.pronamespace::regnamespace::text || '.' || p.proname::text, p.prosrc FROM pg_proc p "
        "WHERE p.pronamespace IN ('pgaudit_kit'::regnamespace, to_regnamespace('pgaudit_kit_guard'))"
    ).fetchall()
    for name, source in rows:
        if _CAPTURE.fullmatch(name):
            continue  # compared with a fresh generation by capture_problems
        if name not in shipped:
            findings.add(Finding("coverage_unknown_function", f"{name} is not a function the kit ships", object=name))
        elif shipped[name] != source:
            findings.add(Finding("coverage_function_modified", f"{name} differs from the shipped SQL", object=name))
    for name in sorted(set(shipped) - {r[0] for r in rows}):
        findings.add(Finding("coverage_function_missing", f"{name} is missing", object=name))
