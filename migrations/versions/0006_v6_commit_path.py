"""v6: commit path -- one commit-time trigger seals and notifies watchers (v4's notify trigger and
function are dropped), and row images are built by jsonb_object from arrays (capture functions regenerated).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes) and what it removed. Functions, views, triggers, policies and event triggers come from the
# current sql/ sources after the deltas (pgaudit_kit.schema.migration_support).
DELTA = """
-- pgaudit_kit.seal_at_commit() now also notifies watchers (sql/functions/seal_at_commit.sql): v4's trigger and
-- function go, where an upgrade from revision 0004 or 0005 finds them. Both pending commit triggers fire first:
-- PostgreSQL refuses to drop a trigger with pending events.
DO $drop_notify$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid = 'pgaudit_kit.transaction'::regclass
                AND t.tgname = 'pgaudit_kit_notify_watchers') THEN
    SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit, pgaudit_kit.pgaudit_kit_notify_watchers IMMEDIATE;
    SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit DEFERRED;
    DROP TRIGGER pgaudit_kit_notify_watchers ON pgaudit_kit.transaction;
  END IF;
END
$drop_notify$;
DROP FUNCTION IF EXISTS pgaudit_kit.notify_watchers();
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
