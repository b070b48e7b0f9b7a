"""Retired history: where the log in the database starts after `retire` removed an archived prefix.

`retire` (pgaudit_kit.retire) records a control event, in the log itself, naming the block whose end is the new
start: its number, tree size and hash. That block stays in the database, and its root and frontier (the roots of
the perfect subtrees of the retired tree) are all that verification and proofs need of the retired prefix.
The newest such event is the boundary; the log's own record of it, sealed like the rest, is what is trusted,
not the pgaudit_kit.retirement table that lets the deletes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..core import merkle
from ..core.errors import UsageError


@dataclass(frozen=True)
class Boundary:
    """The end of the retired prefix: block *block_no* ends at *tree_size* and had hash *block_hash*."""

    block_no: int
    tree_size: int
    block_hash: bytes
    event_id: int  # the control event that recorded the retirement


def newest(conn: psycopg.Connection[Any]) -> Boundary | None:
    """The boundary of the newest retirement the log records, None when nothing was retired. A hostile value
    in an event's details is no boundary (verify then reports what it finds missing)."""
    row = conn.execute(
        r"""SELECT (e.row_data->>'block_no')::int8, (e.row_data->>'tree_size')::int8,
                   decode(e.row_data->>'block_hash', 'hex'), e.id
              FROM pgaudit_kit.event e
             WHERE e.op = 'K' AND e.relid IS NULL AND e.row_data->>'action' = 'retire'
               AND e.row_data->>'block_no' ~ '^[0-9]{1,18}$' AND e.row_data->>'tree_size' ~ '^[0-9]{1,18}$'
               AND e.row_data->>'block_hash' ~ '^[0-9a-f]{64}$'
             ORDER BY (e.row_data->>'tree_size')::int8 DESC, e.id DESC LIMIT 1""").fetchone()
    return None if row is None else Boundary(int(row[0]), int(row[1]), bytes(row[2]), int(row[3]))


def frontier(conn: psycopg.Connection[Any], boundary: Boundary) -> merkle.Frontier | None:
    """The retired tree's frontier, as its last block stored it, when that block is still the one the
    retirement named and the frontier gives its root; None otherwise."""
    row = conn.execute("SELECT tree_size, root, frontier FROM pgaudit_kit.block WHERE block_no = %s "
                       "AND block_hash = %s AND tree_size IS NOT NULL AND root IS NOT NULL",
                       (boundary.block_no, boundary.block_hash)).fetchone()
    peaks = row[2] if row is not None and isinstance(row[2], list) else None
    if (row is None or int(row[0]) != boundary.tree_size or peaks is None
            or len(peaks) != boundary.tree_size.bit_count()
            or not all(isinstance(p, bytes) and len(p) == merkle.HASH_SIZE for p in peaks)):
        return None
    found = merkle.Frontier(boundary.tree_size, list(peaks))
    return found if found.root() == bytes(row[1]) else None


def broken(boundary: Boundary) -> UsageError:
    """The error of a command that must start where retired history ends, when that block is not as retired."""
    return UsageError(f"block {boundary.block_no}, where retired history ends, is not as it was retired "
                      "(run: pgaudit-kit verify)")


def base_frontier(conn: psycopg.Connection[Any]) -> merkle.Frontier:
    """The frontier of the retired tree (empty when nothing was retired); raises broken() when it cannot be had."""
    boundary = newest(conn)
    if boundary is None:
        return merkle.Frontier()
    found = frontier(conn, boundary)
    if found is None:
        raise broken(boundary)
    return found
