-- pgaudit-kit: pgaudit_kit.event_partitions() -- the partitions of pgaudit_kit.event in order of their ranges:
-- name, lower bound (NULL: MINVALUE) and upper bound (exclusive; NULL: MAXVALUE) of id; the last, event_overflow,
-- is the one up to MAXVALUE (is_overflow).
CREATE OR REPLACE FUNCTION pgaudit_kit.event_partitions()
RETURNS TABLE (partition regclass, name text, lower_id bigint, upper_id bigint, is_overflow boolean)
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT c.oid::regclass, c.relname::text,
         pg_catalog.substring(b.bound, '^FOR VALUES FROM \(''?([0-9-]+)''?\)')::bigint,
         pg_catalog.substring(b.bound, ' TO \(''?([0-9-]+)''?\)$')::bigint,
         b.bound LIKE '% TO (MAXVALUE)'
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound) b
   WHERE i.inhparent = 'pgaudit_kit.event'::regclass
   ORDER BY 4 NULLS LAST
$fn$;
ALTER FUNCTION pgaudit_kit.event_partitions() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.event_partitions() IS
    'pgaudit-kit: the partitions of pgaudit_kit.event and their ranges of id, in order';
GRANT EXECUTE ON FUNCTION pgaudit_kit.event_partitions() TO pgaudit_kit_admin, pgaudit_kit_reader;
