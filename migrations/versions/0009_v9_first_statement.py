"""v9: write path -- a transaction's first audited statement writes its who/where row in the same statement as
its events (a data-modifying WITH of pgaudit_kit.transaction_row_sql()), instead of through two PL/pgSQL calls and
a statement of its own; the lockdown check and the marks are SQL functions the planner inlines (check_lockdown,
refuse_while_locked_down, mark_transaction_recorded). Capture functions are regenerated (capture v7).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing structural: functions only (sql/functions/capture_function_source.sql, record_transaction.sql,
    write_transaction_row.sql, and the new check_lockdown.sql, refuse_while_locked_down.sql,
    mark_transaction_recorded.sql, transaction_row_sql.sql), which come from the current sql/ sources after every
    upgrade; capture functions are regenerated from them."""
