"""Connections and the translation of database failures into the kit's typed errors.

Connection parameters follow psql: an explicit DSN (``--dsn`` / ``PGAUDIT_KIT_DSN``), else libpq's own
environment (``PGHOST``, ``PGUSER``, ``PGPASSWORD``, ...) and defaults.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader

from ..core.errors import (
    EnvironmentProblem,
    HistoryDamaged,
    InsufficientPrivilege,
    KitError,
    NotInstalled,
    ReadOnlyServer,
    UsageError,
)
from ..core.names import KIT_SCHEMA

# SQLSTATE classes that mean "the request names something wrong" rather than "the server cannot serve".
_USAGE_SQLSTATES = {
    "42P01",  # undefined_table
    "42703",  # undefined_column
    "42704",  # undefined_object
    "42809",  # wrong_object_type
    "3F000",  # invalid_schema_name
    "22023",  # invalid_parameter_value
    "0A000",  # feature_not_supported
    "42602",  # invalid_name
    "42601",  # syntax_error
    "22P02",  # invalid_text_representation
}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def describe_target(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    return f"{info.user}@{info.host}:{info.port}/{info.dbname}"


class OutOfRangeTime(datetime):
    """A timestamptz Python's datetime cannot hold: infinite, or outside years 1-9999 (the kit never writes one;
    a superuser's edit may store one). It orders as the nearest datetime and prints as what was stored, so
    that status, doctor and the review commands show it instead of failing; verify reports it."""

    text: str

    @classmethod
    def of(cls, later: bool, text: str) -> OutOfRangeTime:
        nearest = datetime.max if later else datetime.min
        value = cls(nearest.year, nearest.month, nearest.day, nearest.hour, nearest.minute, nearest.second,
                    nearest.microsecond, tzinfo=UTC)
        value.text = text
        return value

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def astimezone(self, tz: tzinfo | None = None) -> OutOfRangeTime:
        return self


class _TimestamptzLoader(TimestamptzLoader):
    def load(self, data: Buffer) -> datetime:
        try:
            return super().load(data)
        except psycopg.DataError:
            text = bytes(data).decode("utf-8", "replace")
            return OutOfRangeTime.of(not text.startswith("-") and not text.endswith("BC"), text)


class _TimestamptzBinaryLoader(TimestamptzBinaryLoader):
    def load(self, data: Buffer) -> datetime:
        try:
            return super().load(data)
        except psycopg.DataError:
            (micros,) = struct.unpack(">q", bytes(data))  # since 2000-01-01 00:00:00 UTC
            text = {2**63 - 1: "infinity", -(2**63): "-infinity"}.get(micros)
            return OutOfRangeTime.of(micros > 0, text or ("after 9999-12-31" if micros > 0 else "before 0001-01-01"))


def connect(
    dsn: str | None, *, autocommit: bool = False, application_name: str = "pgaudit-kit"
) -> psycopg.Connection[Any]:
    """Open a connection or raise EnvironmentProblem naming why (bad DSN, refused, wrong password)."""
    try:
        conn: psycopg.Connection[Any] = psycopg.connect(
            dsn or "", autocommit=autocommit, application_name=application_name, connect_timeout=10,
            client_encoding="UTF8",  # whatever the database's encoding: the server converts, Python reads UTF-8
        )
    except psycopg.ProgrammingError as exc:  # malformed conninfo string
        raise EnvironmentProblem(f"invalid connection string: {_first_line(str(exc))}") from exc
    except psycopg.OperationalError as exc:
        raise EnvironmentProblem(f"cannot connect: {_condense(str(exc))}") from exc
    conn.adapters.register_loader("timestamptz", _TimestamptzLoader)
    conn.adapters.register_loader("timestamptz", _TimestamptzBinaryLoader)
    return conn


# How library operations that open connections of their own (install's SQLAlchemy engine, verify's parallel
# readers) get them: a function the caller makes, usually connector(dsn).
Connector = Callable[[], psycopg.Connection[Any]]


def connector(dsn: str | None) -> Connector:
    """A Connector opening connections to *dsn* the way :func:`connect` does."""
    return lambda: connect(dsn)


def _condense(message: str) -> str:
    """libpq errors span lines ('connection to server ... failed: FATAL: ...'); keep the telling part."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else message


def translate(exc: psycopg.Error) -> KitError:
    """Map a database error raised while running a command to the kit error it means."""
    message = _first_line(exc.diag.message_primary or str(exc)) if exc.diag else _first_line(str(exc))
    if isinstance(exc, pgerrors.InsufficientPrivilege):
        # no access to the kit's own schema: the role holds no kit role (the review commands say the same)
        hint = ("; the role needs a kit role (a superuser runs: pgaudit-kit grant admin ROLE, or reader)"
                if f"schema {KIT_SCHEMA}" in message else "")
        return InsufficientPrivilege(f"insufficient privilege: {message}{hint}")
    if isinstance(exc, pgerrors.ReadOnlySqlTransaction):
        return ReadOnlyServer(f"the server is read-only (hot standby or read-only transaction): {message}")
    if isinstance(exc, psycopg.OperationalError):
        return EnvironmentProblem(f"database connection failed: {_condense(str(exc))}")
    if exc.sqlstate == "55000":  # object_not_in_prerequisite_state: the kit is locked down
        return EnvironmentProblem(message)
    if exc.sqlstate == "XX001":  # data_corrupted: the kit refuses stored history it cannot have written
        return HistoryDamaged(message)
    if exc.sqlstate in _USAGE_SQLSTATES:
        return UsageError(message)
    return KitError(f"database error {exc.sqlstate}: {message}")


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


def is_installed(conn: psycopg.Connection[Any]) -> bool:
    # Catalog lookup rather than to_regclass(), which fails for a role without USAGE on the schema.
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'pgaudit_kit' AND c.relname = 'alembic_version')").fetchone()
    return bool(row and row[0])


def has_kit_relation(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether the kit's schema has relation *name*: what a command asks of objects a later revision added
    (it may run against a database not upgraded yet)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{KIT_SCHEMA}.{name}",)).fetchone()
    return row == (True,)


def require_installed(conn: psycopg.Connection[Any]) -> None:
    if not is_installed(conn):
        raise NotInstalled(f"pgaudit-kit is not installed in {describe_target(conn)} (run: pgaudit-kit install)")


def require_encoded(conn: psycopg.Connection[Any]) -> None:
    """Refuse a database whose text has no encoding (SQL_ASCII: bytes stored as given, no conversion, no check):
    the kit records text as characters and hashes their UTF-8 bytes, which such a database cannot say."""
    row = conn.execute("SELECT current_setting('server_encoding')").fetchone()
    if row and row[0] == "SQL_ASCII":
        raise EnvironmentProblem(
            f"{describe_target(conn)} has encoding SQL_ASCII: it stores text as unchecked bytes, so what the kit "
            "records could not be read back as the same characters on every client, nor hashed the same way; "
            "nothing was installed (create the database with ENCODING 'UTF8', or another real encoding, and "
            "move the data there)")


def require_writable(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    if row and row[0]:
        raise ReadOnlyServer(f"{describe_target(conn)} is a read-only standby; run this against the primary")


def require_superuser(conn: psycopg.Connection[Any], action: str) -> None:
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not (row and row[0]):
        raise InsufficientPrivilege(
            f"{action} needs a superuser (it creates event triggers and roles); {conn.info.user} is not one"
        )


def int_array(values: Iterable[int]) -> str:
    """*values* as the text of an integer array, for a parameter cast to int8[]: psycopg dumps a list
    element by element in Python (a tenth of a second for 200,000 ids)."""
    return "{" + ",".join(map(str, values)) + "}"


def begin_consistent_read(conn: psycopg.Connection[Any]) -> None:
    """Start a read-only REPEATABLE READ transaction (one snapshot for everything read after) on a
    database that has the kit. Must be the first statement on the connection."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    require_installed(conn)


def begin_in_snapshot(conn: psycopg.Connection[Any], snapshot: str) -> None:
    """Start a read-only REPEATABLE READ transaction in another transaction's exported *snapshot*
    (begin_shared_read): what it reads is what that transaction reads. Must be the first statement."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))


def snapshot_readers(connect: Connector, snapshot: str, count: int,
                     stack: ExitStack) -> list[psycopg.Connection[Any]]:
    """*count* connections reading in the exported *snapshot* (begin_in_snapshot), closed by *stack*; or none
    if any cannot be had (no connection slot left, a pooler that sends them to another server process): the
    caller then reads on its own connection."""
    with ExitStack() as opened:
        readers = []
        try:
            for _ in range(count):
                reader = opened.enter_context(connect())
                begin_in_snapshot(reader, snapshot)
                readers.append(reader)
        except (psycopg.Error, KitError):
            return []
        stack.enter_context(opened.pop_all())
        return readers


def begin_shared_read(conn: psycopg.Connection[Any]) -> str | None:
    """begin_consistent_read, and export its snapshot so that other connections can read in it too
    (``SET TRANSACTION SNAPSHOT``). Returns the snapshot's id, or None when the server refuses to export
    one; the transaction is then begun again, unshared."""
    begin_consistent_read(conn)
    try:
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()  # not in a savepoint: refused there
        return str(row[0]) if row else None
    except psycopg.Error:
        conn.rollback()
        begin_consistent_read(conn)
        return None


def server_version(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_setting('server_version')").fetchone()
    return str(row[0]) if row else "unknown"


__all__ = [
    "KIT_SCHEMA", "Connector", "connect", "connector", "translate", "translated_errors", "is_installed",
    "require_installed",
    "require_writable", "require_superuser", "begin_consistent_read", "begin_shared_read", "server_version",
    "describe_target", "UsageError",
]
