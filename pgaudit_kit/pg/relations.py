"""A user's table name turned into a relation, the way PostgreSQL resolves it.

The server does the resolving (``parse_ident`` and the catalog for a qualified name, ``to_regclass`` and the
search_path for an unqualified one: quoting, case folding), so a name means in pgaudit-kit what it means in SQL,
without needing privileges on the table's schema. Every command that takes a table name goes through
:func:`find_relation`; the commands add only what their name must be (an existing table to enrol or
reconcile, or any name with recorded history to review).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..core.errors import UsageError

TABLE_RELKINDS = ("r", "p")  # ordinary and partitioned tables: what the kit can enrol


@dataclass(frozen=True)
class Relation:
    """A relation as the server resolved a name: its OID, schema-qualified quoted name and relkind.

    partition_root / partition_root_oid name the top of its partition tree when it is a partition.
    """

    oid: int
    name: str
    relkind: str
    partition_root: str | None = None
    partition_root_oid: int | None = None


# A schema-qualified name is looked up in the catalog, which needs no privilege on the schema: the kit's roles
# review and enrol tables in schemas they have no USAGE on (to_regclass refuses them). parse_ident splits the
# name as the server's parser does (quoting, case folding); an unqualified name goes through to_regclass and the
# search_path, as in SQL.
QUALIFIED_SQL = """
SELECT q.oid FROM pg_catalog.pg_class q JOIN pg_catalog.pg_namespace qn ON qn.oid = q.relnamespace
 WHERE qn.nspname = %(schema)s AND q.relname = %(table)s"""
FIND_SQL = """
SELECT c.oid::int8, pg_catalog.format('%%I.%%I', n.nspname, c.relname), c.relkind::text, r.oid::int8,
       CASE WHEN r.oid IS NOT NULL THEN pg_catalog.format('%%I.%%I', rn.nspname, r.relname) END
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_class r ON r.oid = pg_catalog.pg_partition_root(c.oid) AND r.oid <> c.oid
  LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
 WHERE c.oid = %(oid)s"""


def _resolve(conn: psycopg.Connection[Any], name: str) -> int | None:
    parsed = conn.execute("SELECT pg_catalog.parse_ident(%s), pg_catalog.current_database()", (name,)).fetchone()
    assert parsed is not None
    parts, database = list(parsed[0]), str(parsed[1])
    if len(parts) == 3 and parts[0] == database:
        parts = parts[1:]
    if len(parts) == 2:
        row = conn.execute(QUALIFIED_SQL, {"schema": parts[0], "table": parts[1]}).fetchone()
        return None if row is None else int(row[0])
    row = conn.execute("SELECT pg_catalog.to_regclass(%s)::oid::int8", (name,)).fetchone()  # raises as SQL would
    return None if row is None or row[0] is None else int(row[0])


def find_relation(conn: psycopg.Connection[Any], name: str) -> Relation | None:
    """The relation *name* resolves to, or None when nothing has that name.

    Raises UsageError for an empty name or one the server cannot parse (``a.b.c.d``). Runs in a
    transaction or savepoint of its own, so an open snapshot stays usable after a malformed name.
    """
    if not name.strip():
        raise UsageError("empty table name")
    try:
        with conn.transaction():
            oid = _resolve(conn, name)
            row = None if oid is None else conn.execute(FIND_SQL, {"oid": oid}).fetchone()
    except psycopg.Error as exc:  # e.g. improper qualified name
        raise UsageError(f"invalid table name {name!r}: {exc.diag.message_primary or exc}") from exc
    if row is None:
        return None
    oid, canonical, relkind, root_oid, root = row
    return Relation(int(oid), str(canonical), str(relkind), None if root is None else str(root),
                    None if root_oid is None else int(root_oid))


def require_table(conn: psycopg.Connection[Any], name: str) -> Relation:
    """The table *name* resolves to (ordinary or partitioned); raises UsageError naming it when it does not
    exist or is another kind of relation (view, sequence, ...)."""
    relation = find_relation(conn, name)
    if relation is None:
        raise UsageError(f"table {name!r} does not exist (names resolve like SQL: quote mixed case, e.g. '\"Orders\"')")
    if relation.relkind not in TABLE_RELKINDS:
        raise UsageError(f"{relation.name} is not a table (relkind {relation.relkind}); only tables can be enrolled")
    return relation
