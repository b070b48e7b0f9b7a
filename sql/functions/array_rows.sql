-- pgaudit-kit: pgaudit_kit.array_rows -- a flat-read array cut into rows of p_width elements: (r, row r), r from 0.
-- How pgaudit_kit.chunk_events reads a chunk's 2-D arrays: each array whole once (a chunk's arrays are
-- compressed: taking one row at a time by subscript would decompress the whole array for every row).
-- Not SECURITY DEFINER and without a SET clause, so the planner inlines it (every name is qualified).
CREATE OR REPLACE FUNCTION pgaudit_kit.array_rows(p_values text[], p_width integer)
RETURNS TABLE (r bigint, v text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT (u.k OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) p_width, pg_catalog.array_agg(u.v ORDER BY u.k)
    FROM pg_catalog.unnest(p_values) WITH ORDINALITY AS u(v, k) GROUP BY 1
$fn$;
ALTER FUNCTION pgaudit_kit.array_rows(text[], integer) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.array_rows(text[], integer) IS
    'pgaudit-kit: an array read whole, cut into rows of a given width';
