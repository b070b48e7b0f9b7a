"""A psycopg transaction that records who acts: the actor and context bound with context.acting (or given)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg

from .context import SET_SQL, joined


@contextmanager
def audited_transaction(conn: psycopg.Connection[Any], actor: str | None = None,
                        **context: Any) -> Iterator[psycopg.Transaction]:
    """``conn.transaction()`` whose first statement sets pgaudit_kit.actor and pgaudit_kit.context, local to
    it: what it writes to audited tables is recorded as done by *actor* (default: the one bound now).

        with audited_transaction(conn, actor=user.email, request_id=request_id):
            conn.execute("UPDATE orders SET status = 'shipped' WHERE id = %s", (order_id,))
    """
    with conn.transaction() as tx:
        conn.execute(SET_SQL, joined(actor, context).settings())
        yield tx


@asynccontextmanager
async def audited_async_transaction(conn: psycopg.AsyncConnection[Any], actor: str | None = None,
                                    **context: Any) -> AsyncIterator[psycopg.AsyncTransaction]:
    """The same for an ``AsyncConnection``."""
    async with conn.transaction() as tx:
        await conn.execute(SET_SQL, joined(actor, context).settings())
        yield tx
