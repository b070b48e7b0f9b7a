-- pgaudit-kit: pgaudit_kit.columns_of_type -- a table's columns whose type is one of the given ones, directly or
-- through domains (a domain compares and prints as its base type does), in column order. Capture and reconcile
-- ask it which columns are bpchar (their text goes through bpcharout: a cast to text would strip trailing
-- blanks), and capture which ones an UPDATE may compare as values (pgaudit_kit.old_values_sql).
CREATE OR REPLACE FUNCTION pgaudit_kit.columns_of_type(p_relid oid, p_types pg_catalog.regtype[]) RETURNS text[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  WITH RECURSIVE base(attnum, attname, typid) AS (
      SELECT a.attnum, a.attname::text, a.atttypid FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
      SELECT b.attnum, b.attname, t.typbasetype FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typid
       WHERE t.typtype = 'd')
  SELECT COALESCE(pg_catalog.array_agg(b.attname ORDER BY b.attnum), '{}')
    FROM base b WHERE b.typid OPERATOR(pg_catalog.=) ANY (p_types::pg_catalog.oid[])
$fn$;
ALTER FUNCTION pgaudit_kit.columns_of_type(oid, pg_catalog.regtype[]) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.columns_of_type(oid, pg_catalog.regtype[]) IS
    'pgaudit-kit: a table''s columns of the given types, directly or through domains';
