"""v2: the sealed log -- canonical event encoding, Merkle blocks chained by hash, sealing (on demand and
piggy-backed at commit), client-signed checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.migration_support import run_sql_files

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
UPGRADE_FILES = [
    "v2/tables/block.sql",
    "v2/tables/checkpoint.sql",
    "v2/functions/leaf_input.sql",
    "v2/functions/seal.sql",
    "v2/functions/rebind.sql",
    "v2/grants.sql",
]
DOWNGRADE_FILES = ["v2/downgrade.sql"]


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    run_sql_files(DOWNGRADE_FILES)
