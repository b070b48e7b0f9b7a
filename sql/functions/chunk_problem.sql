-- pgaudit-kit: pgaudit_kit.chunk_problem -- what is wrong with a chunk (pgaudit_kit.event_chunk) that capture
-- cannot have written, or NULL. Capture writes arrays that fit each other (n_events rows of the recorded
-- columns, of the key columns, and for UPDATE of the old values); only a superuser past the guards can store
-- others. Sealing refuses to expand such a chunk (and with it everything after it: the log stays in order),
-- review leaves its events out, and invariant_problems() reports it, so status, doctor and verify name it.
-- Not SECURITY DEFINER and without a SET clause, so the planner inlines it (every name is qualified).
CREATE OR REPLACE FUNCTION pgaudit_kit.chunk_problem(c pgaudit_kit.event_chunk) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE
    WHEN c.op IS NULL OR c.op NOT IN ('I', 'U', 'D', 'T') THEN pg_catalog.format('operation %L', c.op::text)
    WHEN c.n_events IS NULL OR c.n_events NOT BETWEEN 1 AND 1024
      OR c.id > 9223372036854775807 OPERATOR(pg_catalog.-) 1024
      THEN pg_catalog.format('%s events from id %s', c.n_events, c.id)
    WHEN pg_catalog.array_dims(c.columns) IS DISTINCT FROM
           pg_catalog.format('[1:%s]', pg_catalog.cardinality(c.columns))
      OR pg_catalog.array_position(c.columns, NULL) IS NOT NULL THEN 'column names of another shape'
    WHEN c.pk_columns IS NOT NULL AND (pg_catalog.array_dims(c.pk_columns) IS DISTINCT FROM
           pg_catalog.format('[1:%s]', pg_catalog.cardinality(c.pk_columns))
      OR pg_catalog.array_position(c.pk_columns, NULL) IS NOT NULL) THEN 'key column names of another shape'
    WHEN pg_catalog.array_dims(c.images) IS DISTINCT FROM
           pg_catalog.format('[1:%s][1:%s]', c.n_events, pg_catalog.cardinality(c.columns))
      THEN 'values of another shape'
    WHEN (c.op = 'U') IS DISTINCT FROM (c.old_images IS NOT NULL)
      OR (c.op = 'U' AND pg_catalog.array_dims(c.old_images) IS DISTINCT FROM pg_catalog.array_dims(c.images))
      THEN 'old values of another shape'
    WHEN (c.pk_columns IS NULL) IS DISTINCT FROM (c.pks IS NULL)
      OR (c.pk_columns IS NOT NULL AND pg_catalog.array_dims(c.pks) IS DISTINCT FROM
            pg_catalog.format('[1:%s][1:%s]', c.n_events, pg_catalog.cardinality(c.pk_columns)))
      THEN 'key values of another shape' END
$fn$;
ALTER FUNCTION pgaudit_kit.chunk_problem(pgaudit_kit.event_chunk) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.chunk_problem(pgaudit_kit.event_chunk) IS
    'pgaudit-kit: what is wrong with a chunk that capture cannot have written, or NULL';
