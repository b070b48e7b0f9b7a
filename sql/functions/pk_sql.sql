-- pgaudit-kit: pgaudit_kit.pk_sql -- SQL of a primary key image
CREATE OR REPLACE FUNCTION pgaudit_kit.pk_sql(p_pk_columns text[], p_bpchar text[], p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_pk_columns IS NULL THEN 'NULL::jsonb'
    ELSE pgaudit_kit.image_sql(p_pk_columns, p_bpchar, '{}', p_alias, 'NULL', 'NULL') END
$fn$;
ALTER FUNCTION pgaudit_kit.pk_sql(text[], text[], text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.pk_sql(text[], text[], text) IS 'pgaudit-kit: SQL of a primary key image';
