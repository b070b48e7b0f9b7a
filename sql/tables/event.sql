-- pgaudit-kit: pgaudit_kit.event -- every recorded change, one row each.
-- op: I insert, U update, D delete, T row removed by TRUNCATE, S schema change (DDL, GRANT, COMMENT),
--     K kit control (enrol, options, disenrol).
-- Row images are jsonb objects mapping column name to the column's text output, produced under fixed
-- settings (UTC, ISO dates, hex bytea, shortest-exact floats), so that feeding each value back through
-- the column type's input function reproduces the row exactly, whatever the writer's session settings.
-- row_data holds the row after INSERT/UPDATE and before DELETE/TRUNCATE; for UPDATE, old_values holds
-- the previous value of each changed column (so old image = row_data || old_values).
-- Invariants (op in IDUTSK; old_values exactly for U; row_data, relid and table_name for I/U/D/T) hold by
-- construction: only the kit's generated functions write here. They are deliberately not CHECK
-- constraints: PostgreSQL re-parses and re-plans every CHECK at each statement's executor start, which
-- was a third of the cost of capturing a single-row statement.
-- id steps by 1,024: a chunk of a statement of many rows (pgaudit_kit.event_chunk) numbers its up to 1,024
-- events from one value. Ids order the events; they are not consecutive.
-- Partitioned by ranges of id (pgaudit_kit.event_p0, event_p1, ...; pgaudit_kit.add_event_partitions creates them
-- ahead of the identity), so that retiring old history drops whole partitions instead of deleting rows; above them
-- event_overflow takes every id to MAXVALUE, so that a write never fails for want of a partition.
-- Range of id rather than of time: the primary key must contain the partition key, ids arrive in order, and every
-- lookup by id (verify, proofs, sealing's expansion) is pruned to one partition.
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
