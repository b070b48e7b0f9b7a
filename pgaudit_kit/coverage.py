"""Coverage: is capture still in place exactly as shipped? Reads the catalog, returns findings.

Checks that every enrolled table has its capture triggers enabled ALWAYS, that each generated capture
function is byte-identical to a fresh generation, that every kit function is identical to the shipped
SQL, that no unknown function hides in the kit's schema, and that the kit's event triggers and the
sealing trigger are in place.
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
    r"CREATE (?:OR REPLACE )?FUNCTION pgaudit_kit\.(\w+)\(.*?\bAS (\$\w*\$)(.*?)\2", re.S)
_CAPTURE = re.compile(r"capture_\d+")


@cache
def shipped_function_bodies() -> dict[str, str]:
    """Function name -> body, from the SQL sources of the current schema (later files win)."""
    bodies: dict[str, str] = {}
    for line in (sql_dir() / "MANIFEST").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            for match in _FUNCTION.finditer((sql_dir() / line.strip()).read_text()):
                bodies[match.group(1)] = match.group(3)
    return bodies


def check(conn: psycopg.Connection[Any], findings: Findings) -> None:
    for problem in capture_problems(conn):
        findings.add(Finding("coverage_trigger", problem.message, object=problem.object))
    shipped = shipped_function_bodies()
    rows = conn.execute(
        "SELECT p.proname::text, p.prosrc FROM pg_proc p WHERE p.pronamespace = 'pgaudit_kit'::regnamespace"
    ).fetchall()
    for name, source in rows:
        if _CAPTURE.fullmatch(name):
            continue
        if name not in shipped:
            findings.add(Finding("coverage_unknown_function", f"pgaudit_kit.{name} is not a function the kit ships",
                                 object=f"pgaudit_kit.{name}"))
        elif shipped[name] != source:
            findings.add(Finding("coverage_function_modified", f"pgaudit_kit.{name} differs from the shipped SQL",
                                 object=f"pgaudit_kit.{name}"))
    for name in sorted(set(shipped) - {r[0] for r in rows}):
        findings.add(Finding("coverage_function_missing", f"pgaudit_kit.{name} is missing",
                             object=f"pgaudit_kit.{name}"))
    for relid, table, installed, expected in conn.execute(
        """
        SELECT e.relid, format('%I.%I', e.schema_name, e.table_name), p.prosrc,
               substring(pgaudit_kit.capture_function_source(e.relid) FROM '\\$capture\\$(.*)\\$capture\\$')
          FROM pgaudit_kit.enrolled_table e
          LEFT JOIN pg_proc p ON p.oid = to_regprocedure(format('pgaudit_kit.%I()', 'capture_' || e.relid))
         WHERE EXISTS (SELECT FROM pg_class c WHERE c.oid = e.relid)
        """
    ).fetchall():
        if installed is not None and installed != expected:
            findings.add(Finding("coverage_capture_modified", f"capture function of {table} is not the one the kit "
                                 "generates: writes may go unrecorded", object=f"pgaudit_kit.capture_{relid}"))
    state = conn.execute(
        "SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = to_regclass('pgaudit_kit.transaction') "
        "AND tgname = 'pgaudit_kit_seal_at_commit'"
    ).fetchone()
    if state is None or state[0] != "A":
        findings.add(Finding("coverage_sealing", "the sealing trigger pgaudit_kit_seal_at_commit is missing or not "
                             "enabled ALWAYS", object="pgaudit_kit.transaction"))
