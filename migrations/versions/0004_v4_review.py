"""v4: review -- indexes for the review commands (log, history, tx) and notifications for watch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.migration_support import run_sql_files

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
# Building the indexes reads all recorded history once; audited writes wait for it (see bench/RESULTS.md).
UPGRADE_FILES = [
    "v4/indexes/event_relid_bloom.sql",
    "v4/indexes/event_row.sql",
    "v4/indexes/event_time.sql",
    "v4/indexes/event_ddl_control.sql",
    "v4/indexes/transaction_context.sql",
    "v4/indexes/transaction_actor.sql",
    "v4/indexes/transaction_acting_role.sql",
    "v4/indexes/transaction_set_role.sql",
    "v4/tables/watch_lease.sql",
    "v4/tables/watch_notified.sql",
    "v4/functions/watch.sql",
    "v4/grants.sql",
]
DOWNGRADE_FILES = ["v4/downgrade.sql"]


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    run_sql_files(DOWNGRADE_FILES)
