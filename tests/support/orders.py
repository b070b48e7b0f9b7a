"""The audited table the application-helper tests write to, and what the kit recorded of it."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support.helpers import enable


def create_orders(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, status text)")
    enable(conn, "orders")


def recorded_with_xid(conn: psycopg.Connection[Any], order_id: int) -> list[tuple[Any, ...]]:
    """(op, actor, context, xid) of each recorded write of order *order_id*, oldest first."""
    return conn.execute(
        "SELECT e.op::text, t.actor, t.context, e.xid::text FROM pgaudit_kit.recorded_event e "
        "LEFT JOIN pgaudit_kit.transaction t USING (xid) WHERE e.table_name = 'orders' AND e.pk->>'id' = %s "
        "ORDER BY e.id", (str(order_id),)).fetchall()


def recorded(conn: psycopg.Connection[Any], order_id: int) -> list[tuple[Any, ...]]:
    """(op, actor, context) of each recorded write of order *order_id*, oldest first."""
    return [row[:3] for row in recorded_with_xid(conn, order_id)]
