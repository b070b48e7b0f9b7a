"""Small helpers shared by tests (``from tests.support.helpers import cli``)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from click.testing import CliRunner, Result
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from pgaudit_kit.cli import main


def cli(*args: str, dsn: str | None = None, input: str | None = None) -> Result:
    """Run the CLI in-process; stdout and stderr are kept apart."""
    argv = (["--dsn", dsn] if dsn is not None else []) + list(args)
    return CliRunner().invoke(main, argv, input=input, catch_exceptions=False)


def events(conn: psycopg.Connection[Any], where: str = "operation IN ('INSERT','UPDATE','DELETE','TRUNCATE')") -> list[dict[str, Any]]:
    """Recorded changes from pgaudit_kit.change, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT * FROM pgaudit_kit.change WHERE {where} ORDER BY id")
        return list(cur.fetchall())


def enable(conn: psycopg.Connection[Any], table: str, **options: Any) -> None:
    conn.execute(
        # p_reason only when given: released revisions before 0012 (the upgrade tests) have no such argument
        "SELECT pgaudit_kit.enable_table(%s::regclass, %s, %s, %s, %s" + (", p_reason => %s)" if "reason" in options
                                                                         else ")"),
        (table, options.get("exclude", []), options.get("redact", []), options.get("truncate", "capture"),
         options.get("statement", False), *([options["reason"]] if "reason" in options else [])),
    )


def with_params(dsn: str, **overrides: Any) -> str:
    """*dsn* with some connection parameters replaced (user, password, dbname ...)."""
    params = conninfo_to_dict(dsn)
    params.update(overrides)
    return make_conninfo("", **params)


@contextmanager
def guards_off(conn: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """As a superuser attacking the kit would: disable the kit's event triggers and the guard triggers of
    its tables, yield, then put every one back as it was (ENABLE ALWAYS), covering the tracks. *conn* must
    be a superuser connection in autocommit mode. PostgreSQL runs no event trigger for ALTER EVENT
    TRIGGER, which is why only detection (verify, doctor) can answer this."""
    event_triggers = [r[0] for r in conn.execute(
        "SELECT evtname::text FROM pg_event_trigger WHERE evtname::text LIKE 'pgaudit\\_kit\\_%' AND evtenabled = 'A'")]
    guarded = [(r[0], r[1]) for r in conn.execute(
        "SELECT tgrelid::regclass::text, tgname::text FROM pg_trigger "
        "WHERE tgname IN ('pgaudit_kit_guard', 'pgaudit_kit_retire_only') AND tgenabled = 'A'")]
    for name in event_triggers:
        conn.execute(psycopg.sql.SQL("ALTER EVENT TRIGGER {} DISABLE").format(psycopg.sql.Identifier(name)))
    for table, trigger in guarded:
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    try:
        yield conn
    finally:
        for table, trigger in guarded:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                conn.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
        for name in event_triggers:
            if conn.execute("SELECT 1 FROM pg_event_trigger WHERE evtname = %s", (name,)).fetchone():
                conn.execute(psycopg.sql.SQL("ALTER EVENT TRIGGER {} ENABLE ALWAYS").format(
                    psycopg.sql.Identifier(name)))


def run_with_stderr_on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe): its result and what the terminal got."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "pgaudit_kit", *args], stdout=subprocess.PIPE, stderr=follower,
                              text=True, timeout=120, check=False)
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and everything was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return done, seen.decode()


def spread_over_partitions(conn: psycopg.Connection[Any], events_each: int, ahead: int) -> None:
    """Move the event table's identity to the end of its first partitions (which a fresh install makes 2^26 ids
    wide) and create *ahead* partitions of *events_each* events from there: what a long-lived log looks like, in
    a few events. *conn* is a superuser's (setval on the kit's sequence)."""
    top = conn.execute("SELECT max(upper_id) FROM pgaudit_kit.event_partitions()").fetchone()
    assert top is not None
    conn.execute("SELECT setval(pg_get_serial_sequence('pgaudit_kit.event', 'id'), %s)", (top[0] - 1024,))
    conn.execute("SELECT pgaudit_kit.add_event_partitions(%s, %s)", (events_each * 1024, ahead))
