"""The helpers users call from their own Alembic migrations."""

from __future__ import annotations

from typing import Any

import psycopg
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from pgaudit_kit import alembic_ops
from tests.support.helpers import events


def test_enable_and_disable_from_a_user_migration(kit_db: str) -> None:
    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(kit_db))
    with engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        op.create_table("invoice", sa.Column("id", sa.Integer, primary_key=True), sa.Column("card", sa.Text))
        alembic_ops.enable_table(op, "invoice", redacted_columns=["card"])
        conn.exec_driver_sql("INSERT INTO invoice VALUES (1, '4111')")
    with engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        alembic_ops.disable_table(op, "invoice", "migration 42 retires invoices")
    engine.dispose()
    with psycopg.connect(kit_db) as conn:
        (insert,) = events(conn)
        assert insert["new_row"]["card"].startswith("hmac-sha256:")
        actions = [e["details"]["action"] for e in events(conn, "operation = 'CONTROL'")]
        assert actions == ["enable", "disable"]


def test_include_object_filters_the_kit() -> None:
    meta = sa.MetaData()
    kit_table = sa.Table("event", meta, sa.Column("id", sa.Integer), schema="pgaudit_kit")
    user_table = sa.Table("orders", meta, sa.Column("id", sa.Integer))
    args: dict[str, Any] = {"reflected": True, "compare_to": None}
    assert not alembic_ops.include_object(kit_table, "event", "table", **args)
    assert alembic_ops.include_object(user_table, "orders", "table", **args)
    assert not alembic_ops.include_object(user_table, "pgaudit_kit_capture_insert", "trigger", **args)
