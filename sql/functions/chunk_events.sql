-- pgaudit-kit: pgaudit_kit.chunk_events -- the events of a chunk (pgaudit_kit.event_chunk), exactly the rows
-- the statement's capture would have written into pgaudit_kit.event one by one: the same jsonb_object of the
-- same texts for row_data and pk, and for UPDATE the old values of the columns whose recorded text changed
-- (a redacted column's digest changes exactly when its value does).
-- Sealing writes them into pgaudit_kit.event; pgaudit_kit.staged_event shows them before that.
-- Not SECURITY DEFINER and without a SET clause, so the planner inlines it (every name is qualified).
-- Only for chunks whose arrays fit each other (pgaudit_kit.chunk_problem is NULL): sealing and
-- pgaudit_kit.staged_event check that first.
CREATE OR REPLACE FUNCTION pgaudit_kit.chunk_events(c pgaudit_kit.event_chunk) RETURNS SETOF pgaudit_kit.event
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT c.id OPERATOR(pg_catalog.+) (z.r OPERATOR(pg_catalog.-) 1), c.xid, c.statement_ts, c.op, c.relid, c.schema_name,
         c.table_name, c.partition_name,
         CASE WHEN c.pk_columns IS NOT NULL THEN pg_catalog.jsonb_object(c.pk_columns, z.k) END,
         pg_catalog.jsonb_object(c.columns, z.n),
         CASE WHEN c.op = 'U' THEN pg_catalog.jsonb_object(c.columns, z.o) OPERATOR(pg_catalog.-)
              ARRAY(SELECT u.col FROM ROWS FROM (pg_catalog.unnest(c.columns), pg_catalog.unnest(z.n),
                                                  pg_catalog.unnest(z.o)) AS u(col, n, o)
                     WHERE u.n IS NOT DISTINCT FROM u.o) END,
         c.statement
    -- row r of each array side by side (an array that is NULL gives NULL rows: old values, keys)
    FROM ROWS FROM (pgaudit_kit.chunk_rows(c.images, pg_catalog.cardinality(c.columns)),
                    pgaudit_kit.chunk_rows(c.old_images, pg_catalog.cardinality(c.columns)),
                    pgaudit_kit.chunk_rows(c.pks, pg_catalog.cardinality(c.pk_columns))) WITH ORDINALITY AS z(n, o, k, r)
$fn$;
ALTER FUNCTION pgaudit_kit.chunk_events(pgaudit_kit.event_chunk) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.chunk_events(pgaudit_kit.event_chunk) IS
    'pgaudit-kit: the events of a chunk, as capture would have written them one by one';
