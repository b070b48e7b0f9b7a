-- pgaudit-kit: pgaudit_kit.values_sql -- SQL of a row's recorded values: a text[] of the columns' recorded values
-- (exact text output, redacted columns as keyed digests) in p_columns order. A row image is jsonb_object of the
-- column names and this (image_sql); a chunk (pgaudit_kit.event_chunk) stores it as one row of its arrays.
CREATE OR REPLACE FUNCTION pgaudit_kit.values_sql(p_columns text[], p_bpchar text[], p_redacted text[], p_alias text,
                                                  p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT pg_catalog.format('ARRAY[%s]::text[]',
                           (SELECT pg_catalog.string_agg(
                                     pgaudit_kit.column_value_sql(u.c, p_bpchar, p_redacted, p_alias, p_ipad, p_opad),
                                     ', ' ORDER BY u.i)
                              FROM pg_catalog.unnest(p_columns) WITH ORDINALITY AS u(c, i)))
$fn$;
ALTER FUNCTION pgaudit_kit.values_sql(text[], text[], text[], text, text, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.values_sql(text[], text[], text[], text, text, text) IS
    'pgaudit-kit: SQL of a row''s recorded values, as a text array';
