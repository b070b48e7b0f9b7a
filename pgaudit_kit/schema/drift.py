"""Drift: kit functions that are not what the kit put there. `install` refuses to upgrade over drift (an
upgrade would overwrite the evidence) unless told to record it; verify's coverage check compares the same
records (pgaudit_kit.schema.shipped) with the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from .shipped import ShippedFunction, functions_in, load, newest_revision, source_digest


def shipped_functions(revision: str | None = None) -> dict[str, ShippedFunction]:
    """What *revision* (default: the newest) shipped, by qualified function name."""
    return load(revision or newest_revision())


def kit_function_sources(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Qualified name -> source of every function in the kit's schemas but the generated capture ones."""
    return {name: source for name, (_, source) in functions_in(conn).items()}


@dataclass(frozen=True)
class Drift:
    """A kit function that is not what the kit put there; *found* is its source now (None: missing)."""

    kind: str
    object: str
    message: str
    found: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "object": self.object, "problem": self.message, "found_source": self.found}


def upgrade_drift(conn: psycopg.Connection[Any], revision: str) -> list[Drift]:
    """What an upgrade from *revision* would overwrite without a trace: kit functions that differ from
    what *revision* shipped or are missing, and capture functions that are not what the database's own
    generator makes of their tables. (Unknown functions and disabled triggers survive an upgrade, and
    `verify` reports them after it.)"""
    shipped = shipped_functions(revision)
    found = kit_function_sources(conn)
    drift = [Drift("coverage_function_modified", name, f"{name} differs from the SQL revision {revision} shipped",
                   found[name]) for name in sorted(shipped)
             if name in found and source_digest(found[name]) != shipped[name].source_sha256]
    drift += [Drift("coverage_function_missing", name, f"{name} is missing", None)
              for name in sorted(set(shipped) - set(found))]
    # Revisions 0005 on pin only the settings a table's columns need (capture_settings); earlier ones
    # pinned the same six everywhere, which the body's generation already implies.
    pinned = conn.execute("SELECT to_regprocedure('pgaudit_kit.capture_settings(oid)') IS NOT NULL").fetchone()
    settings_differ = sql.SQL(
        " OR p.proconfig IS DISTINCT FROM pgaudit_kit.capture_settings(e.relid)" if pinned and pinned[0] else "")
    for table, function, source in conn.execute(sql.SQL(
            r"""SELECT format('%I.%I', e.schema_name, e.table_name), 'pgaudit_kit.capture_' || e.relid, p.prosrc
                  FROM pgaudit_kit.enrolled_table e
                  JOIN pg_class c ON c.oid = e.relid
                  LEFT JOIN pg_proc p ON p.oid = to_regprocedure(format('pgaudit_kit.%I()', 'capture_' || e.relid))
                 WHERE p.oid IS NULL OR NOT p.prosecdef
                    OR p.prosrc IS DISTINCT FROM substring(pgaudit_kit.capture_function_source(e.relid),
                                                           '\$capture\$(.*)\$capture\$'){}
                 ORDER BY 1""").format(settings_differ)):
        if source is None:
            drift.append(Drift("coverage_trigger", function, f"{function}, capture of {table}, is missing", None))
        else:
            drift.append(Drift("coverage_capture_modified", function,
                               f"{function}, capture of {table}, is not the one the kit generates", source))
    return drift
