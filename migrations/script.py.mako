"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from pgaudit_kit.migration_support import run_sql_files

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
UPGRADE_FILES: list[str] = []
DOWNGRADE_FILES: list[str] = []


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    run_sql_files(DOWNGRADE_FILES)
