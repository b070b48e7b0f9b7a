"""v14: capture records the partition that held a row only for partitioned tables (any other table's trigger fires
for the table itself: the name was always NULL, at 21 k instructions per tpcb transaction to find that out), and
decides which columns an UPDATE changed by their recorded text compared byte for byte, so that a column under a
nondeterministic (case- or accent-insensitive) collation whose case alone changed keeps its old value. Capture
functions are regenerated (capture v9).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing structural: functions only (sql/functions/capture_function_source.sql, old_values_sql.sql), which
    come from the current sql/ sources after every upgrade; capture functions are regenerated from them."""
