-- pgaudit-kit: pgaudit_kit.chunk_events -- the events of a chunk (pgaudit_kit.event_chunk), exactly the rows
-- the statement's capture would have written into pgaudit_kit.event one by one: the same jsonb_object of the
-- same texts for row_data and pk, and for UPDATE the old values of the columns whose recorded text changed
-- (a redacted column's digest changes exactly when its value does).
-- Sealing writes them into pgaudit_kit.event; pgaudit_kit.staged_event shows them before that.
-- Not SECURITY DEFINER and without a SET clause, so the planner inlines it (every name is qualified).
-- A chunk whose arrays do not fit each other (only a superuser past the guards could write one) makes this
-- fail, and with it the seal: nothing of it is sealed, and status shows the backlog.
CREATE OR REPLACE FUNCTION pgaudit_kit.chunk_events(c pgaudit_kit.event_chunk) RETURNS SETOF pgaudit_kit.event
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT c.id OPERATOR(pg_catalog.+) i.r, c.xid, c.statement_ts, c.op, c.relid, c.schema_name, c.table_name, c.partition_name,
         CASE WHEN c.pk_columns IS NOT NULL THEN pg_catalog.jsonb_object(c.pk_columns, k.v) END,
         pg_catalog.jsonb_object(c.columns, n.v),
         CASE WHEN c.op = 'U' THEN pg_catalog.jsonb_object(c.columns, o.v) OPERATOR(pg_catalog.-)
              ARRAY(SELECT u.col FROM ROWS FROM (pg_catalog.unnest(c.columns), pg_catalog.unnest(n.v),
                                                  pg_catalog.unnest(o.v)) AS u(col, n, o)
                     WHERE u.n IS NOT DISTINCT FROM u.o) END,
         c.statement
    -- Each array is read whole once (a chunk's arrays are compressed: taking one row at a time by subscript
    -- would decompress the whole array for every row) and cut into rows by position.
    FROM pg_catalog.generate_series(0, c.n_events OPERATOR(pg_catalog.-) 1) AS i(r)
    JOIN (SELECT (u.k OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) pg_catalog.cardinality(c.columns) AS r,
                 pg_catalog.array_agg(u.v ORDER BY u.k) AS v
            FROM pg_catalog.unnest(c.images) WITH ORDINALITY AS u(v, k) GROUP BY 1) n
      ON n.r OPERATOR(pg_catalog.=) i.r
    LEFT JOIN (SELECT (u.k OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) pg_catalog.cardinality(c.columns) AS r,
                      pg_catalog.array_agg(u.v ORDER BY u.k) AS v
                 FROM pg_catalog.unnest(c.old_images) WITH ORDINALITY AS u(v, k) GROUP BY 1) o
      ON o.r OPERATOR(pg_catalog.=) i.r
    LEFT JOIN (SELECT (u.k OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) pg_catalog.cardinality(c.pk_columns) AS r,
                      pg_catalog.array_agg(u.v ORDER BY u.k) AS v
                 FROM pg_catalog.unnest(c.pks) WITH ORDINALITY AS u(v, k) GROUP BY 1) k
      ON k.r OPERATOR(pg_catalog.=) i.r
$fn$;
ALTER FUNCTION pgaudit_kit.chunk_events(pgaudit_kit.event_chunk) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.chunk_events(pgaudit_kit.event_chunk) IS
    'pgaudit-kit: the events of a chunk, as capture would have written them one by one';
