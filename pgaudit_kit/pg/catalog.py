"""Read-only views of the kit's state in a database: enrolment, capture triggers, schema snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row


def enrolled_tables(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT schema_name, table_name, capture_mode, pk_columns, excluded_columns, redacted_columns,
                   truncate_policy, capture_statement, enrolled_at::text AS enrolled_at, enrolled_by
              FROM pgaudit_kit.enrolled_table ORDER BY schema_name, table_name
            """
        )
        return list(cur.fetchall())


def auto_enrol_schemas(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT schema_name, excluded_columns, redacted_columns, truncate_policy, capture_statement,
                   created_at::text AS created_at, created_by
              FROM pgaudit_kit.auto_enrol_schema ORDER BY schema_name
            """
        )
        return list(cur.fetchall())


@dataclass(frozen=True)
class Problem:
    kind: str
    object: str
    message: str


def capture_problems(conn: psycopg.Connection[Any]) -> list[Problem]:
    """What breaks capture or the kit's guards now: the same invariants the DDL guard enforces at commit
    (pgaudit_kit.invariant_problems), so verify and the guard can never disagree."""
    if conn.execute("SELECT to_regprocedure('pgaudit_kit.invariant_problems()')").fetchone() == (None,):
        return [Problem("coverage_trigger", "pgaudit_kit",
                        "the kit's schema predates its guards: run pgaudit-kit install to upgrade it")]
    return [Problem(*row) for row in conn.execute("SELECT kind, object, problem FROM pgaudit_kit.invariant_problems()")]


SNAPSHOT_QUERIES: dict[str, str] = {
    "relations": """
        SELECT c.relname::text, c.relkind::text, pg_get_userbyid(c.relowner)::text, c.relacl::text,
               obj_description(c.oid, 'pg_class'), c.relrowsecurity, c.relforcerowsecurity, c.relpersistence::text
          FROM pg_class c WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relname <> 'alembic_version'
           AND c.relname NOT LIKE 'alembic_version%%' ORDER BY 1""",
    # Alembic creates its version table; the kit's sources secure it (row-level security, the kit's roles read)
    "version_table": """
        SELECT c.relname::text, c.relacl::text, c.relrowsecurity
          FROM pg_class c WHERE c.oid = to_regclass('pgaudit_kit.alembic_version')""",
    "sequences": """
        SELECT s.seqrelid::regclass::text, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax,
               s.seqmin, s.seqcache, s.seqcycle
          FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
         WHERE c.relnamespace = 'pgaudit_kit'::regnamespace ORDER BY 1""",
    "policies": """
        SELECT pol.polrelid::regclass::text, pol.polname::text, pol.polcmd::text, pol.polpermissive,
               ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
                       FROM unnest(pol.polroles) r ORDER BY 1)::text,
               pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)
          FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
         WHERE c.relnamespace = 'pgaudit_kit'::regnamespace ORDER BY 1, 2""",
    "columns": """
        SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, col_description(c.oid, a.attnum),
               a.attacl::text, a.attgenerated::text
          FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relname NOT LIKE 'alembic_version%%'
         ORDER BY 1, a.attnum""",
    "constraints": """
        SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
          FROM pg_constraint WHERE connamespace = 'pgaudit_kit'::regnamespace
           AND conrelid::regclass::text NOT LIKE '%%alembic_version%%' ORDER BY 1, 2""",
    "indexes": """
        SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relname NOT LIKE 'alembic_version%%' ORDER BY 1""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), pg_get_userbyid(p.proowner)::text,
               p.proacl::text, obj_description(p.oid, 'pg_proc')
          FROM pg_proc p WHERE p.pronamespace IN ('pgaudit_kit'::regnamespace, to_regnamespace('pgaudit_kit_guard'))
         ORDER BY 1""",
    "views": """
        SELECT c.relname::text, pg_get_viewdef(c.oid)
          FROM pg_class c WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind = 'v' ORDER BY 1""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname::text, pg_get_triggerdef(oid), tgenabled::text
          FROM pg_trigger WHERE NOT tgisinternal
           AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgaudit_kit'::regnamespace) ORDER BY 1, 2""",
    "event_triggers": """
        SELECT evtname::text, evtevent::text, evtfoid::regprocedure::text, evtenabled::text, evttags::text,
               obj_description(oid, 'pg_event_trigger')
          FROM pg_event_trigger WHERE evtname::text LIKE 'pgaudit\\_kit\\_%%' ORDER BY 1""",
    "schema": """
        SELECT nspname::text, pg_get_userbyid(nspowner)::text, nspacl::text, obj_description(oid, 'pg_namespace')
          FROM pg_namespace WHERE nspname IN ('pgaudit_kit', 'pgaudit_kit_guard') ORDER BY 1""",
}


# How many leading columns of a snapshot row name its object (table and column, table and constraint, ...).
_SNAPSHOT_KEY_WIDTH = {"columns": 2, "constraints": 2, "triggers": 2, "policies": 2}


def schema_snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Everything that defines the kit's schema (structure, code, ownership, ACLs, comments), not data."""
    return {name: [tuple(row) for row in conn.execute(query).fetchall()] for name, query in SNAPSHOT_QUERIES.items()}


def snapshot_differences(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """One line per object that differs between two snapshots, naming it (its kind and the row's leading
    columns, e.g. ``functions pgaudit_kit.seal(integer,boolean)``), with each side's row."""
    lines: list[str] = []
    for kind in a:
        width = _SNAPSHOT_KEY_WIDTH.get(kind, 1)
        left = {row[:width]: row for row in a[kind]}
        right = {row[:width]: row for row in b[kind]}
        for key in sorted(set(left) | set(right), key=str):
            if left.get(key) != right.get(key):
                lines.append(f"{kind} {' '.join(str(k) for k in key)}: {left.get(key)!r} != {right.get(key)!r}")
    return lines
