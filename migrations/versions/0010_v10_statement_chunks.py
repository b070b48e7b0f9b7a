"""v10: write path -- a statement-mode capture that sees 32 rows or more records them as chunks of up to 1,024 rows
(the new table pgaudit_kit.event_chunk: the rows' recorded values as text arrays, numbered from one value of
pgaudit_kit.event's identity, which now steps by 1,024), instead of one pgaudit_kit.event row each; sealing expands the chunks of ended
transactions into the same events, in order, before it seals them, and deletes them (a guard refuses any other
DELETE). Review reads the new views pgaudit_kit.staged_event (events still in chunks) and recorded_event (both).
Capture functions are regenerated (capture v8).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes). Functions, views and triggers come from the current sql/ sources after the deltas.
DELTA = """
CREATE TABLE pgaudit_kit.event_chunk (
    xid            xid8 NOT NULL,
    id             bigint NOT NULL,
    statement_ts   timestamptz NOT NULL,
    op             "char" NOT NULL,
    relid          oid NOT NULL,
    schema_name    text NOT NULL,
    table_name     text NOT NULL,
    partition_name text,
    columns        text[] NOT NULL,
    pk_columns     text[],
    n_events       integer NOT NULL,
    pks            text[],
    images         text[] NOT NULL,
    old_images     text[],
    statement      text,
    PRIMARY KEY (xid, id)
);
ALTER TABLE pgaudit_kit.event_chunk OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.event_chunk IS
    'pgaudit-kit: events of many-row statements, recorded compactly; expanded into event when sealed';
COMMENT ON COLUMN pgaudit_kit.event_chunk.id IS 'Event id of the first row; the others follow it (id + 1, id + 2, ...)';
COMMENT ON COLUMN pgaudit_kit.event_chunk.n_events IS 'Rows of the chunk: events, one per row of its arrays';
COMMENT ON COLUMN pgaudit_kit.event_chunk.pks IS 'Primary key values of each row (pk_columns order), as pk';
COMMENT ON COLUMN pgaudit_kit.event_chunk.images IS
    'Recorded values of each row (columns order, redacted as in row_data): after INSERT/UPDATE, before DELETE/TRUNCATE';
COMMENT ON COLUMN pgaudit_kit.event_chunk.old_images IS 'UPDATE only: the recorded values of each row before it';
DO $lz4$
BEGIN
  IF (SELECT 'lz4' = ANY (s.enumvals) FROM pg_catalog.pg_settings s WHERE s.name = 'default_toast_compression') THEN
    ALTER TABLE pgaudit_kit.event_chunk ALTER COLUMN pks SET COMPRESSION lz4, ALTER COLUMN images SET COMPRESSION lz4,
                                        ALTER COLUMN old_images SET COMPRESSION lz4;
  END IF;
END
$lz4$;
GRANT SELECT ON pgaudit_kit.event_chunk TO pgaudit_kit_admin, pgaudit_kit_reader;
-- a chunk numbers its events from one value of the identity: every value leaves room for 1,024 events
ALTER TABLE pgaudit_kit.event ALTER COLUMN id SET INCREMENT BY 1024;
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
