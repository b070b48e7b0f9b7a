"""Sealing, backlog and checkpoints, as run from the client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from ..core import anchors, signing
from ..core.errors import UsageError
from ..pg import db


def origin(conn: psycopg.Connection[Any]) -> str:
    """The checkpoint origin naming this database instance: cluster system identifier, database, install id."""
    row = conn.execute(
        "SELECT (SELECT system_identifier FROM pg_control_system())::text, current_database(), "
        "(SELECT install_id::text FROM pgaudit_kit.install)"
    ).fetchone()
    assert row is not None
    return f"pgaudit-kit/{row[0]}/{quote(row[1], safe='')}/{row[2]}"


def seal(conn: psycopg.Connection[Any], batch: int = 10000) -> int:
    """Seal everything sealable now (several blocks if needed). Returns the number of events sealed."""
    total = 0
    with db.translated_errors():
        while True:
            with conn.transaction():
                row = conn.execute("SELECT pgaudit_kit.seal(%s, true)", (batch,)).fetchone()
            sealed = int(row[0]) if row else 0
            total += sealed
            if sealed < batch:
                return total


@dataclass
class Backlog:
    count: int
    oldest: datetime | None
    age_seconds: float | None
    tree_size: int
    last_sealed_at: datetime | None


def backlog(conn: psycopg.Connection[Any]) -> Backlog:
    row = conn.execute(
        """
        WITH last AS (SELECT * FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1)
        SELECT count(e.id), min(e.statement_ts),
               -- no interval (an extreme timestamp a superuser stored overflows one), no infinity (JSON has none)
               LEAST(GREATEST((EXTRACT(epoch FROM clock_timestamp()) - EXTRACT(epoch FROM min(e.statement_ts)))::float8,
                              -1e308), 1e308),
               COALESCE((SELECT tree_size FROM last), 0), (SELECT sealed_at FROM last)
          FROM pgaudit_kit.event e
         WHERE (e.xid, e.id) > COALESCE((SELECT (last_xid, last_event_id) FROM last), ('0'::xid8, 0::bigint))
        """
    ).fetchone()
    assert row is not None
    return Backlog(int(row[0]), row[1], row[2], int(row[3]), row[4])


@dataclass
class CheckpointResult:
    origin: str
    tree_size: int
    root: bytes
    note: str
    anchored_at: Path | None


def checkpoint(conn: psycopg.Connection[Any], key: signing.SignerKey, anchor_dir: Path | None) -> CheckpointResult:
    """Seal, sign the newest tree head in the client, store it in the database, then anchor it."""
    db.require_writable(conn)
    db.require_installed(conn)
    seal(conn)
    with db.translated_errors():
        head = conn.execute("SELECT tree_size, root FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1").fetchone()
        if head is None:
            raise UsageError("nothing sealed yet: there is no history to checkpoint")
        name = origin(conn)
        body = signing.Checkpoint(name, int(head[0]), bytes(head[1]))
        note = signing.sign_note(body.body(), key)
        with conn.transaction():
            conn.execute("SELECT pgaudit_kit.store_checkpoint(%s, %s, %s, %s)", (name, body.size, body.root, note))
    path = anchors.append(anchor_dir, name, body.size, note) if anchor_dir else None
    return CheckpointResult(name, body.size, body.root, note, path)
