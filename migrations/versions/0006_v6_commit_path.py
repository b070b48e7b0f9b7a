"""v6: commit path -- one commit-time trigger seals and notifies watchers (v4's notify trigger and
function are dropped), and row images are built by jsonb_object from arrays (capture functions regenerated).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.migration_support import restore_released_functions, run_sql_files

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
UPGRADE_FILES = [
    "v6/functions/at_commit.sql",
    "v6/functions/image_sql.sql",
    "v5/regenerate_capture.sql",
]
# The functions this revision replaced or dropped, and where their previous definitions were released.
REPLACED = [
    ("v2/functions/seal.sql", "pgaudit_kit.seal_at_commit"),
    ("v4/functions/watch.sql", "pgaudit_kit.notify_watchers"),
    ("v1/functions/capture_sql_helpers.sql", "pgaudit_kit.image_sql"),
]
# After the replaced functions are back: capture functions regenerated with v1's image SQL, v4's notify
# trigger.
DOWNGRADE_FILES = ["v5/regenerate_capture.sql", "v6/downgrade.sql"]


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    restore_released_functions(REPLACED)
    run_sql_files(DOWNGRADE_FILES)
