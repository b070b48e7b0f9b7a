-- pgaudit-kit: pgaudit_kit.event_chunk -- the events of a statement that changed many rows, recorded
-- compactly in the changing transaction and expanded into pgaudit_kit.event (one row each, the same rows
-- the statement would have written there one by one) when they are sealed.
-- A statement-mode capture that sees at least 32 rows writes one chunk per 1,024 of them: the rows' values
-- as text in two-dimensional arrays (one array row per changed row, one column per recorded column, in
-- `columns` order), numbered from one value of pgaudit_kit.event's identity (which steps by 1,024, the size of
-- the largest chunk), so that the order of a transaction's events is the order of its statements whether a
-- statement was chunked or not.
-- That is what makes a bulk statement cheap: one heap row and one index entry per 1,024 changed rows, its
-- arrays compressed together, instead of a row and five index entries each; the per-row work (the events,
-- their indexes, their leaves) is the sealer's, outside the writing transaction.
-- Read as events through pgaudit_kit.staged_event. Rows leave only when sealing has written their events
-- (a guard refuses any other DELETE; UPDATE and TRUNCATE are refused).
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
-- lz4 where the server has it: a chunk is compressed in the writing transaction, and lz4 does that at a fraction
-- of pglz's cost (PostgreSQL built without lz4 keeps the default)
DO $lz4$
BEGIN
  IF (SELECT 'lz4' = ANY (s.enumvals) FROM pg_catalog.pg_settings s WHERE s.name = 'default_toast_compression') THEN
    ALTER TABLE pgaudit_kit.event_chunk ALTER COLUMN pks SET COMPRESSION lz4, ALTER COLUMN images SET COMPRESSION lz4,
                                        ALTER COLUMN old_images SET COMPRESSION lz4;
  END IF;
END
$lz4$;
GRANT SELECT ON pgaudit_kit.event_chunk TO pgaudit_kit_admin, pgaudit_kit_reader;
