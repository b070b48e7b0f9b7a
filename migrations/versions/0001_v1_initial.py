"""v1: roles, schema, capture tables, capture generator, enrolment functions, DDL event triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.migration_support import run_sql_files

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQL sources this revision applies, in order. Never edit a released file: add a new version.
UPGRADE_FILES = [
    "v1/roles.sql",
    "v1/schema.sql",
    "v1/tables/install.sql",
    "v1/tables/enrolled_table.sql",
    "v1/tables/auto_enrol_schema.sql",
    "v1/tables/transaction.sql",
    "v1/tables/event.sql",
    "v1/tables/redaction_key.sql",
    "v1/functions/parse_json_or_null.sql",
    "v1/functions/record_transaction.sql",
    "v1/functions/record_control_event.sql",
    "v1/functions/redact.sql",
    "v1/functions/table_shape_signature.sql",
    "v1/functions/existing_columns.sql",
    "v1/functions/capture_sql_helpers.sql",
    "v1/functions/capture_function_source.sql",
    "v1/functions/install_capture_triggers.sql",
    "v1/functions/enable_table.sql",
    "v1/functions/disable_table.sql",
    "v1/functions/auto_enrol.sql",
    "v1/functions/on_ddl_command_end.sql",
    "v1/views/change.sql",
    "v1/grants.sql",
    "v1/event_triggers.sql",
]
DOWNGRADE_FILES = ["v1/downgrade.sql"]


def upgrade() -> None:
    run_sql_files(UPGRADE_FILES)


def downgrade() -> None:
    run_sql_files(DOWNGRADE_FILES)
