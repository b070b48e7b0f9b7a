"""v13: partitioned history. pgaudit_kit.event becomes a table partitioned by ranges of id, so that retiring old
history drops whole partitions instead of deleting rows (pgaudit_kit.retire_events). The existing table becomes
its first partition in place, event_p0 (from MINVALUE to the next multiple of 2^26 above the identity), keeping
its rows, its indexes (attached to the new parent's), its guards and its row-level security: no row is copied,
the only scan is the validation of event_p0's range. The identity moves to the new parent and continues where it
was. pgaudit_kit.add_event_partitions (from the sources, after this delta) creates the partitions ahead and
event_overflow above them (to MAXVALUE); each partition carries the guards (pgaudit_kit.protect_event_partition).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes), and what it drops. Functions, views and triggers come from the current sql/ sources after the deltas.
DELTA = """
DO $partition$
DECLARE
  v_sequence text := pg_catalog.pg_get_serial_sequence('pgaudit_kit.event', 'id');
  v_last bigint;
  v_called boolean;
  v_bound bigint;
  v_recording text[];
  v_trigger text;
BEGIN
  EXECUTE pg_catalog.format('SELECT last_value, is_called FROM %s', v_sequence) INTO v_last, v_called;
  -- The event triggers that record DDL write into pgaudit_kit.event, which for a moment does not exist (renamed,
  -- then its identity dropped): they are off while it is converted, inside this maintenance window (recorded, as
  -- the whole upgrade is), and back on after it. One somebody had disabled stays as it was (verify reports it).
  v_recording := ARRAY(SELECT e.evtname::text FROM pg_catalog.pg_event_trigger e
                        WHERE e.evtname IN ('pgaudit_kit_ddl_command_end', 'pgaudit_kit_sql_drop') AND e.evtenabled = 'A');
  FOREACH v_trigger IN ARRAY v_recording LOOP
    EXECUTE pg_catalog.format('ALTER EVENT TRIGGER %I DISABLE', v_trigger);
  END LOOP;
  -- the first partition ends at the multiple of 2^26 (a fresh install's first width) above every id handed out so
  -- far, and the ids of unsealed chunks (up to 1,023 after their first)
  v_bound := ((CASE WHEN v_called THEN v_last + 1024 ELSE v_last END) / 67108864 + 1) * 67108864;

  -- what is typed by the event table's row type follows the old table: the sources create them anew
  DROP VIEW IF EXISTS pgaudit_kit.change, pgaudit_kit.recorded_event, pgaudit_kit.staged_event;
  DROP FUNCTION IF EXISTS pgaudit_kit.chunk_events(pgaudit_kit.event_chunk);
  DROP FUNCTION IF EXISTS pgaudit_kit.event_leaf_input(pgaudit_kit.event, pgaudit_kit.transaction);

  ALTER TABLE pgaudit_kit.event RENAME TO event_p0;
  ALTER INDEX pgaudit_kit.event_pkey RENAME TO event_p0_pkey;
  ALTER INDEX pgaudit_kit.event_xid_id_idx RENAME TO event_p0_xid_id_idx;
  ALTER INDEX pgaudit_kit.event_relid_bloom RENAME TO event_p0_relid_bloom;
  ALTER INDEX pgaudit_kit.event_row_idx RENAME TO event_p0_row_idx;
  ALTER INDEX pgaudit_kit.event_time_brin RENAME TO event_p0_time_brin;
  ALTER INDEX pgaudit_kit.event_ddl_control_idx RENAME TO event_p0_ddl_control_idx;
  -- (PostgreSQL 17 refuses to attach a table with an identity column; its sequence goes with it)
  ALTER TABLE pgaudit_kit.event_p0 ALTER COLUMN id DROP IDENTITY;
  -- read through the parent; described as a partition (pgaudit_kit.protect_event_partition comments it)
  REVOKE ALL ON pgaudit_kit.event_p0 FROM pgaudit_kit_admin, pgaudit_kit_reader;
  COMMENT ON COLUMN pgaudit_kit.event_p0.op IS NULL;
  COMMENT ON COLUMN pgaudit_kit.event_p0.relid IS NULL;
  COMMENT ON COLUMN pgaudit_kit.event_p0.partition_name IS NULL;
  COMMENT ON COLUMN pgaudit_kit.event_p0.pk IS NULL;
  COMMENT ON COLUMN pgaudit_kit.event_p0.row_data IS NULL;
  COMMENT ON COLUMN pgaudit_kit.event_p0.old_values IS NULL;
  COMMENT ON COLUMN pgaudit_kit.event_p0.statement IS NULL;

  -- PostgreSQL 18 names NOT NULL constraints (event_id_not_null ...) and would name the new parent's
  -- event_id_not_null1 while the old table's hold those names (and pass the new names on to every partition): the
  -- old table's give way while the parent is created and take their names back before it is attached (an
  -- inherited constraint of a partition can no longer be renamed)
  FOR v_trigger IN SELECT c.conname::text FROM pg_catalog.pg_constraint c
                    WHERE c.conrelid = 'pgaudit_kit.event_p0'::regclass AND c.contype = 'n' LOOP
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event_p0 RENAME CONSTRAINT %I TO %I', v_trigger, 'p0_' || v_trigger);
  END LOOP;
  CREATE TABLE pgaudit_kit.event (
      id             bigint GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1024) PRIMARY KEY,
      xid            xid8 NOT NULL,
      statement_ts   timestamptz NOT NULL,
      op             "char" NOT NULL,
      relid          oid,
      schema_name    text,
      table_name     text,
      partition_name text,
      pk             jsonb,
      row_data       jsonb,
      old_values     jsonb,
      statement      text
  ) PARTITION BY RANGE (id);
  ALTER TABLE pgaudit_kit.event OWNER TO pgaudit_kit_owner;
  COMMENT ON TABLE pgaudit_kit.event IS 'pgaudit-kit: recorded changes, one row each, written in the changing transaction';
  COMMENT ON COLUMN pgaudit_kit.event.op IS 'I insert, U update, D delete, T truncated row, S schema change, K kit control';
  COMMENT ON COLUMN pgaudit_kit.event.relid IS 'OID of the audited table at the time (the partitioned table for partitions)';
  COMMENT ON COLUMN pgaudit_kit.event.partition_name IS 'Partition that physically held the row, when the table is partitioned';
  COMMENT ON COLUMN pgaudit_kit.event.pk IS 'Primary key as {column: text}; NULL when the table has no primary key';
  COMMENT ON COLUMN pgaudit_kit.event.row_data IS 'Row after INSERT/UPDATE, before DELETE/TRUNCATE; details for S and K';
  COMMENT ON COLUMN pgaudit_kit.event.old_values IS 'UPDATE only: previous values of the changed columns';
  COMMENT ON COLUMN pgaudit_kit.event.statement IS 'Statement text: DDL always, DML only where enabled per table';
  GRANT SELECT ON pgaudit_kit.event TO pgaudit_kit_admin, pgaudit_kit_reader;
  CREATE INDEX event_xid_id_idx ON pgaudit_kit.event (xid, id);
  CREATE INDEX event_relid_bloom ON pgaudit_kit.event
      USING brin (relid oid_bloom_ops (n_distinct_per_range = 64, false_positive_rate = 0.01))
      WITH (pages_per_range = 32, autosummarize = on);
  CREATE INDEX event_row_idx ON pgaudit_kit.event (relid, pg_catalog.jsonb_hash(pk)) WHERE pk IS NOT NULL;
  CREATE INDEX event_time_brin ON pgaudit_kit.event USING brin (statement_ts)
      WITH (pages_per_range = 32, autosummarize = on);
  CREATE INDEX event_ddl_control_idx ON pgaudit_kit.event (relid, id) WHERE op IN ('S', 'K');
  PERFORM pg_catalog.setval(pg_catalog.pg_get_serial_sequence('pgaudit_kit.event', 'id'), v_last, v_called);
  FOR v_trigger IN SELECT c.conname::text FROM pg_catalog.pg_constraint c
                    WHERE c.conrelid = 'pgaudit_kit.event_p0'::regclass AND c.contype = 'n' AND pg_catalog.left(c.conname, 3) = 'p0_' LOOP
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event_p0 RENAME CONSTRAINT %I TO %I', v_trigger,
                              pg_catalog.substr(v_trigger, 4));
  END LOOP;

  -- attached without a second scan: the CHECK proves the range (its validation is the one scan of the rows)
  EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event_p0 ADD CONSTRAINT event_p0_range CHECK (id < %s)', v_bound);
  EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.event_p0 '
                            'FOR VALUES FROM (MINVALUE) TO (%s)', v_bound);
  ALTER TABLE pgaudit_kit.event_p0 DROP CONSTRAINT event_p0_range;
  FOREACH v_trigger IN ARRAY v_recording LOOP
    EXECUTE pg_catalog.format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', v_trigger);
  END LOOP;
END
$partition$;
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
