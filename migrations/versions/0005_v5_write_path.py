"""v5: write path -- cheaper sealing (index-range batch, one-call leaf encoding, set-based Merkle append)
and capture functions that pin only the output settings their column types need.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.migration_support import restore_released_functions, run_sql_files

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
UPGRADE_FILES = [
    "v5/functions/leaf_input.sql",
    "v5/functions/seal.sql",
    "v5/functions/capture_settings.sql",
    "v5/functions/capture_function_source.sql",
    "v5/functions/invariants.sql",
    "v5/regenerate_capture.sql",
]
# The functions this revision replaced, and where their previous definitions were released.
REPLACED = [
    ("v2/functions/leaf_input.sql", "pgaudit_kit.event_leaf_input"),
    ("v2/functions/seal.sql", "pgaudit_kit.seal"),
    ("v1/functions/capture_function_source.sql", "pgaudit_kit.capture_function_source"),
    ("v3/functions/invariants.sql", "pgaudit_kit.invariant_problems"),
]
DOWNGRADE_FILES = ["v5/downgrade.sql"]


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    restore_released_functions(REPLACED)
    run_sql_files(DOWNGRADE_FILES)
