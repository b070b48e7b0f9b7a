"""Helpers for *your* Alembic migrations: enrol and disenrol tables in the same transaction as the
DDL that creates or retires them, and keep autogenerate away from the kit's schema.

    from . import alembic_ops

    def upgrade():
        op.create_table("invoice", ...)
        alembic_ops.enable_table(op, "public.invoice", redacted_columns=["card_number"])

    # env.py
    context.configure(..., include_object=alembic_ops.include_object)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from .core.names import KIT_SCHEMA


def enable_table(op: Any, table: str, *, excluded_columns: Sequence[str] = (), redacted_columns: Sequence[str] = (),
                 truncate: str = "capture", capture_statement: bool = False, capture_mode: str | None = None) -> None:
    """Enrol *table* (a SQL name, resolved with the migration's search_path) from inside a migration.

    *capture_mode* is ``"row"`` or ``"statement"`` (``None`` keeps the table's mode; statement when new)."""
    op.execute(sa.text(
        "SELECT pgaudit_kit.enable_table(CAST(:table AS regclass), CAST(:excluded AS text[]), "
        "CAST(:redacted AS text[]), :truncate, :statement, CAST(:mode AS text))"
    ).bindparams(table=table, excluded=list(excluded_columns), redacted=list(redacted_columns), truncate=truncate,
                 statement=capture_statement, mode=capture_mode))


def disable_table(op: Any, table: str, reason: str) -> None:
    """Stop auditing *table*; the reason is recorded with the migration's role and time."""
    op.execute(sa.text("SELECT pgaudit_kit.disable_table(CAST(:table AS regclass), :reason)")
               .bindparams(table=table, reason=reason))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic autogenerate filter: ignore the kit's schema and its capture triggers on your tables."""
    schema = getattr(obj, "schema", None) or getattr(getattr(obj, "table", None), "schema", None)
    if schema == KIT_SCHEMA:
        return False
    return not (name or "").startswith("pgaudit_kit_")
