"""v3: enforcement -- guard triggers on the kit's tables, DDL guards (immediate refusals and a
commit-time invariant check), maintenance windows for upgrades, lockdown, review events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes) and what it removed. Functions, views, triggers, policies and event triggers come from the
# current sql/ sources after the deltas (pgaudit_kit.schema.migration_support).
DELTA = """
-- pgaudit-kit: the guard schema. It holds one function: the sql_drop guard that refuses DROP SCHEMA
-- pgaudit_kit CASCADE. An event trigger whose function is dropped by a command does not fire for that
-- command, so the guard of the kit's schema must live outside it (and, owned by the installing
-- superuser, outside DROP OWNED BY pgaudit_kit_owner too). A twin in the kit's schema guards this one.
CREATE SCHEMA pgaudit_kit_guard;
REVOKE ALL ON SCHEMA pgaudit_kit_guard FROM PUBLIC;
COMMENT ON SCHEMA pgaudit_kit_guard IS 'pgaudit-kit: guards the kit''s schema against DROP SCHEMA ... CASCADE';
-- pgaudit-kit: pgaudit_kit.maintenance -- every maintenance window: a transaction in which the kit's
-- own objects may change (install upgrades them). Opened only by pgaudit_kit.begin_maintenance, which a
-- superuser alone may call and which records a control event; append-only like the rest of history.
CREATE TABLE pgaudit_kit.maintenance (
    xid        xid8 PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_by text NOT NULL DEFAULT session_user,
    reason     text NOT NULL
);
ALTER TABLE pgaudit_kit.maintenance OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.maintenance IS
    'pgaudit-kit: transactions allowed to change the kit''s own objects (upgrades), with who and why';
GRANT SELECT ON pgaudit_kit.maintenance TO pgaudit_kit_admin, pgaudit_kit_reader;
-- pgaudit-kit: pgaudit_kit.lockdown_event -- lockdowns and unlocks, append-only; the newest row is
-- the current state. While locked, every transaction that would write audited rows is refused.
CREATE TABLE pgaudit_kit.lockdown_event (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    locked    boolean NOT NULL,
    reason    text NOT NULL CHECK (pg_catalog.btrim(reason) <> ''),
    acted_by  text NOT NULL,
    acted_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pgaudit_kit.lockdown_event OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.lockdown_event IS 'pgaudit-kit: lockdowns and unlocks; the newest row is the state';
COMMENT ON COLUMN pgaudit_kit.lockdown_event.acted_by IS 'The role that locked or unlocked (session and SET ROLE)';
GRANT SELECT ON pgaudit_kit.lockdown_event TO pgaudit_kit_admin, pgaudit_kit_reader;
-- pgaudit-kit: pgaudit_kit.pending_check -- one row per transaction that ran DDL, so that the
-- invariants are checked once, at commit, by a deferred constraint trigger. The kit's own operations
-- pass through states that are only complete at their end (triggers dropped and re-created), so whole
-- invariants are judged on the final state; what the kit never does is refused at once by the event
-- trigger. A scratch table: the check deletes its own row.
CREATE TABLE pgaudit_kit.pending_check (
    xid xid8 PRIMARY KEY
);
ALTER TABLE pgaudit_kit.pending_check OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.pending_check IS 'pgaudit-kit: transactions whose DDL is checked at commit (scratch)';
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
