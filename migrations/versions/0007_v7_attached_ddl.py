"""v7: DDL on the triggers, rules and policies of audited tables is recorded (PostgreSQL reports no schema
for them, so the event triggers skipped them); a DO INSTEAD rule on an audited table, and a foreign or
temporary inheritance child of one, are refused; a cast to text by a non-superuser's function from the type of
an audited column is an invariant problem (refused at commit) and casts are recorded; reconcile no longer takes
rows rewritten by recorded DDL for unrecorded writes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing structural: functions only (sql/functions/on_ddl_command_end.sql, on_sql_drop.sql, guard_ddl.sql,
    reconcile_table.sql, invariant_problems.sql), which come from the current sql/ sources after every upgrade."""
