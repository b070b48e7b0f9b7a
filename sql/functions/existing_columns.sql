-- pgaudit-kit: pgaudit_kit.existing_columns(oid, text[]) -> text[]
-- The names in a column option list that the table actually has. Schema-wide options (auto-enrol) apply
-- to the tables that have those columns, and a column dropped since enrolment leaves the lists.
CREATE OR REPLACE FUNCTION pgaudit_kit.existing_columns(p_relid oid, p_columns text[]) RETURNS text[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT COALESCE(pg_catalog.array_agg(c ORDER BY i), '{}')
    FROM pg_catalog.unnest(p_columns) WITH ORDINALITY AS u(c, i)
   WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = p_relid AND a.attname::text = u.c AND a.attnum > 0 AND NOT a.attisdropped)
$fn$;
ALTER FUNCTION pgaudit_kit.existing_columns(oid, text[]) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.existing_columns(oid, text[]) IS
    'pgaudit-kit: the columns of a list that a table has';
