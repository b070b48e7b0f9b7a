"""v12: retention and retirement; enrolment that never weakens silently. pgaudit_kit.retention holds the minimum retention period (raise-only:
pgaudit_kit.set_retention); pgaudit_kit.retire removes archived, checkpointed history older than it, recording a
row of pgaudit_kit.retirement and a control event first. The history tables event, transaction, block and
checkpoint keep refusing UPDATE and TRUNCATE; DELETE moves to an AFTER DELETE guard that lets through only
what a retirement recorded in the same transaction covers (pgaudit_kit_retire_only, from triggers/guard.sql).
pgaudit_kit.enable_table gains p_reason: options that would record an excluded or redacted column in clear are
refused without one. pgaudit_kit.checkpoint.note becomes bytea (the note's UTF-8 bytes: any database encoding).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes), and what it drops. Functions, views and triggers come from the current sql/ sources after the deltas.
DELTA = """
CREATE TABLE pgaudit_kit.retention (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    min_age interval NOT NULL CHECK (min_age > '0'::interval),
    set_by  text NOT NULL,
    set_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pgaudit_kit.retention OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.retention IS
    'pgaudit-kit: minimum retention periods set; the longest is in force (raise-only)';
GRANT SELECT ON pgaudit_kit.retention TO pgaudit_kit_admin, pgaudit_kit_reader;

CREATE TABLE pgaudit_kit.retirement (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid            xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    block_no       bigint NOT NULL,
    tree_size      bigint NOT NULL,
    block_hash     bytea NOT NULL,
    archive_sha256 text NOT NULL CHECK (archive_sha256 ~ '^[0-9a-f]{64}$'),
    min_age        interval NOT NULL,
    retired_by     text NOT NULL,
    retired_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pgaudit_kit.retirement OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.retirement IS
    'pgaudit-kit: retirements of archived history: which prefix of the sealed log left, when, by whom, to which archive';
GRANT SELECT ON pgaudit_kit.retirement TO pgaudit_kit_admin, pgaudit_kit_reader;

-- The old guard refused DELETE before the fact; triggers/guard.sql creates the new one (UPDATE OR TRUNCATE) and
-- the AFTER DELETE check where they are missing. A guard somebody disabled is left as it is: an upgrade must
-- not erase that evidence (verify reports it).
-- A checkpoint's note is stored as its UTF-8 bytes (issue 17): a LATIN1 database cannot hold the em dash that
-- starts a signed note's signature lines in a text column. store_checkpoint takes the bytes.
ALTER TABLE pgaudit_kit.checkpoint ALTER COLUMN note TYPE bytea USING pg_catalog.convert_to(note, 'UTF8');
COMMENT ON COLUMN pgaudit_kit.checkpoint.note IS
    'The signed note, UTF-8 encoded: bytes, so that a database of any encoding holds it (its signature lines start with an em dash)';
DROP FUNCTION IF EXISTS pgaudit_kit.store_checkpoint(text, bigint, bytea, text);

-- enable_table gained p_reason (issue 17): the six-argument function goes, the sources create the new one
DROP FUNCTION IF EXISTS pgaudit_kit.enable_table(regclass, text[], text[], text, boolean, text);

DO $guards$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['transaction', 'event', 'block', 'checkpoint'] LOOP
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = pg_catalog.format('pgaudit_kit.%I', t)::regclass
                  AND g.tgname = 'pgaudit_kit_guard' AND g.tgenabled = 'A') THEN
      EXECUTE pg_catalog.format('DROP TRIGGER pgaudit_kit_guard ON pgaudit_kit.%I', t);
    END IF;
  END LOOP;
END
$guards$;
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
