"""v3: enforcement -- guard triggers on the kit's tables, DDL guards (immediate refusals and a
commit-time invariant check), maintenance windows for upgrades, lockdown, review events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.migration_support import run_sql_files

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
UPGRADE_FILES = [
    "v3/schema_guard.sql",
    "v3/tables/maintenance.sql",
    "v3/tables/lockdown_event.sql",
    "v3/tables/pending_check.sql",
    "v3/functions/table_guards.sql",
    "v3/functions/record_transaction.sql",
    "v3/functions/maintenance.sql",
    "v3/functions/lockdown.sql",
    "v3/functions/record_review.sql",
    "v3/functions/record_role_change.sql",
    "v3/functions/invariants.sql",
    "v3/functions/ddl_guards.sql",
    "v3/functions/reconcile.sql",
    "v3/guards.sql",
    "v3/row_security.sql",
    "v3/grants.sql",
    "v3/event_triggers.sql",
]
# v3 replaced record_transaction(): the downgrade puts v1's back.
DOWNGRADE_FILES = ["v3/downgrade.sql", "v1/functions/record_transaction.sql"]


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    run_sql_files(DOWNGRADE_FILES)
