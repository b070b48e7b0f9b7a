-- pgaudit-kit: pgaudit_kit.image_sql -- SQL of a row image
CREATE OR REPLACE FUNCTION pgaudit_kit.image_sql(p_columns text[], p_bpchar text[], p_redacted text[], p_alias text,
                                                 p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN pg_catalog.cardinality(p_columns) = 0 THEN '''{}''::jsonb' ELSE
    pg_catalog.format('pg_catalog.jsonb_object(%L::text[], %s)', p_columns::text,
                      pgaudit_kit.values_sql(p_columns, p_bpchar, p_redacted, p_alias, p_ipad, p_opad)) END
$fn$;
ALTER FUNCTION pgaudit_kit.image_sql(text[], text[], text[], text, text, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.image_sql(text[], text[], text[], text, text, text) IS 'pgaudit-kit: SQL of a row image';
