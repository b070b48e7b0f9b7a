"""Recorded history for the review command tests (``tests.support.review``): real tables, real
transactions with actors, roles and context, DDL, a rename, a dropped table; and helpers that run the CLI
and read its machine output back."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from tests.support.cluster import TEMPLATE_INSTALLED, Cluster
from tests.support.helpers import cli, enable

Conn = psycopg.Connection[Any]

HOSTILE_ACTOR = "o'brien\"; DROP TABLE public.orders; --\\ ü\u00e9 \u2603"
WEIRD_SCHEMA = "we'ird \"sch\""
WEIRD_TABLE = "Tablé; --"
WEIRD_KEY = "it's; \\ \"q\" ü"


@dataclass
class History:
    """What build_history recorded: transaction ids by name, the app role, relids, timestamps."""

    dsn: str
    app_role: str
    xids: dict[str, int] = field(default_factory=dict)
    relids: dict[str, int] = field(default_factory=dict)


def _tx(conn: Conn, name: str, history: History, actor: str | None = None, context: str | None = None,
        role: str | None = None, statements: tuple[str | sql.Composed, ...] = ()) -> None:
    with conn.transaction():
        if actor is not None:
            conn.execute("SELECT set_config('pgaudit_kit.actor', %s, true)", (actor,))
        if context is not None:
            conn.execute("SELECT set_config('pgaudit_kit.context', %s, true)", (context,))
        if role is not None:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        for statement in statements:
            conn.execute(statement)
        row = conn.execute("SELECT pg_current_xact_id()::text::int8").fetchone()
        assert row is not None
        history.xids[name] = int(row[0])
    time.sleep(0.02)  # distinct timestamps between transactions, for the time window tests


def build_history(dsn: str, app_role: str) -> History:
    """Tables, enrolments and transactions the tests query. *app_role* must exist (NOLOGIN is enough)."""
    history = History(dsn, app_role)
    weird = sql.Identifier(WEIRD_SCHEMA, WEIRD_TABLE)
    with psycopg.connect(dsn) as conn:
        conn.autocommit = True
        conn.execute("""
            CREATE TABLE public.orders (id int PRIMARY KEY, status text, price int, note text);
            CREATE TABLE public.lines (order_id int, line int, qty int, PRIMARY KEY (order_id, line));
            CREATE TABLE public.nopk (a int, b text);
            CREATE TABLE public.renamed_from (id int PRIMARY KEY, v text);
            CREATE TABLE public.gone (id int PRIMARY KEY);
            CREATE TABLE public.unaudited (id int PRIMARY KEY);
        """)
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(WEIRD_SCHEMA)))
        conn.execute(sql.SQL("CREATE TABLE {} (k text PRIMARY KEY, v text)").format(weird))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(WEIRD_SCHEMA),
                                                                     sql.Identifier(app_role)))
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public, {} TO {}").format(
            sql.Identifier(WEIRD_SCHEMA), sql.Identifier(app_role)))
        for table in ("public.orders", "public.lines", "public.nopk", "public.renamed_from", "public.gone"):
            enable(conn, table)
        conn.execute("SELECT pgaudit_kit.enable_table(%s::regclass)",
                     (sql.Identifier(WEIRD_SCHEMA, WEIRD_TABLE).as_string(conn),))
        for name in ("orders", "lines", "nopk", "renamed_from", "gone"):
            row = conn.execute("SELECT %s::regclass::oid::int8", (f"public.{name}",)).fetchone()
            assert row is not None
            history.relids[name] = int(row[0])
        conn.autocommit = False
        _tx(conn, "a", history, "alice", '{"request_id": "r-1", "attempt": 2}', statements=(
            "INSERT INTO public.orders VALUES (1, 'new', 5, 'a'), (2, 'new', 7, 'b')",
            "INSERT INTO public.lines VALUES (1, 1, 3), (1, 2, 4)"))
        _tx(conn, "b", history, "bob", '{"request_id": "r-1"}', app_role, statements=(
            "UPDATE public.orders SET status = 'paid' WHERE id = 1",))
        _tx(conn, "c", history, "alice", '{"request_id": "r-2", "attempt": "2"}', statements=(
            "UPDATE public.orders SET price = 6, note = 'c' WHERE id = 2",
            "DELETE FROM public.lines WHERE line = 2"))
        _tx(conn, "d", history, HOSTILE_ACTOR, "not json {", app_role, statements=(
            sql.SQL("INSERT INTO {} VALUES ({}, 'x')").format(weird, sql.Literal(WEIRD_KEY)),
            "INSERT INTO public.nopk VALUES (1, 'x')"))
        _tx(conn, "e", history, None, None, statements=("TRUNCATE public.lines",))
        _tx(conn, "f", history, "dba", None, statements=(
            "ALTER TABLE public.orders ALTER COLUMN price TYPE numeric(10,2)",))
        _tx(conn, "g", history, "carol", '{"request_id": "r-3"}', statements=(
            "UPDATE public.orders SET status = 'shipped' WHERE id = 1",
            "INSERT INTO public.renamed_from VALUES (1, 'before')",
            "INSERT INTO public.gone VALUES (1)"))
        _tx(conn, "rename", history, "dba", None, statements=("ALTER TABLE public.renamed_from RENAME TO renamed_to",))
        _tx(conn, "h", history, "dave", None, statements=(
            "UPDATE public.renamed_to SET v = 'after' WHERE id = 1",
            "INSERT INTO public.unaudited VALUES (1)"))
        _tx(conn, "disable", history, "dba", None, statements=(
            "SELECT pgaudit_kit.disable_table('public.gone', 'retired in a test')",))
        _tx(conn, "drop", history, "dba", None, statements=("DROP TABLE public.gone",))
    return history


@contextmanager
def history_database(cluster: Cluster) -> Iterator[History]:
    """A database of its own with the history above (for a module of read-only tests)."""
    role = f"review_app_{uuid.uuid4().hex[:8]}"
    with cluster.admin() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    name = cluster.create_database(TEMPLATE_INSTALLED)
    try:
        yield build_history(cluster.dsn(name), role)
    finally:
        cluster.drop_database(name)
        with cluster.admin() as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


# -- reading the CLI's output --------------------------------------------------------------------------
def jsonl(*args: str, dsn: str) -> list[dict[str, Any]]:
    result = cli(*args, "--format", "jsonl", dsn=dsn)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return [json.loads(line) for line in result.stdout.splitlines()]


def log_ids(*args: str, dsn: str) -> list[int]:
    """Ids `log` prints with these arguments, all of them, oldest first."""
    return [e["id"] for e in jsonl("log", *args, "--limit", "0", "--order", "oldest", dsn=dsn)]


def ids_where(dsn: str, where: str, params: tuple[Any, ...] = ()) -> list[int]:
    """The truth: ids from the kit's tables with a plain WHERE, written apart from the query builder."""
    with psycopg.connect(dsn) as conn:
        return [int(r[0]) for r in conn.execute(
            f"SELECT e.id FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid "
            f"WHERE {where} ORDER BY e.id", params).fetchall()]


CSV_INTEGERS = ("id", "xid", "relid", "client_port", "backend_pid")
CSV_JSON = ("pk", "old", "new", "changed", "details", "context", "seal")


def csv_events(text: str) -> list[dict[str, Any]]:
    """CSV rows back to the JSON form: empty is null, JSON columns parsed, integers as integers."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out = []
    for row in rows:
        event: dict[str, Any] = {}
        for key, value in row.items():
            if value == "":
                event[key] = None
            elif key in CSV_JSON:
                event[key] = json.loads(value)
            elif key in CSV_INTEGERS:
                event[key] = int(value)
            else:
                event[key] = value
        out.append(event)
    return out


def relid(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT %s::regclass::oid::int8", (table,)).fetchone()
        assert row is not None
        return int(row[0])
