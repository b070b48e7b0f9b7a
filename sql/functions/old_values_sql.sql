-- pgaudit-kit: pgaudit_kit.old_values_sql -- SQL of the previous values of changed columns
-- A column is changed when its recorded text changed, compared byte for byte (COLLATE "C"): a column's own
-- collation may be nondeterministic (ICU, case- or accent-insensitive), under which 'Abc' and 'abc' are equal and
-- the old value would not be recorded, so that the old image (row_data || old_values) would show the new one.
-- Columns of p_by_value (types whose equality is equality of their text, chosen by
-- pgaudit_kit.capture_function_source) are compared as values: the same answer without two casts per column.
CREATE OR REPLACE FUNCTION pgaudit_kit.old_values_sql(p_columns text[], p_bpchar text[], p_by_value text[], p_redacted text[],
                                           p_old text, p_new text, p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN pg_catalog.cardinality(p_columns) = 0 THEN '''{}''::jsonb' ELSE
    '(' || pgaudit_kit.image_sql(p_columns, p_bpchar, p_redacted, p_old, p_ipad, p_opad)
        || ' OPERATOR(pg_catalog.-) pg_catalog.array_remove(ARRAY['
        || (SELECT pg_catalog.string_agg(pg_catalog.format('CASE WHEN %s THEN %L END',
                CASE WHEN c OPERATOR(pg_catalog.=) ANY (p_by_value)
                  THEN pg_catalog.format('%s.%I IS NOT DISTINCT FROM %s.%I', p_old, c, p_new, c)
                  ELSE pg_catalog.format('%s IS NOT DISTINCT FROM %s COLLATE pg_catalog."C"',
                         pgaudit_kit.column_text_sql(c, p_bpchar, p_old), pgaudit_kit.column_text_sql(c, p_bpchar, p_new))
                END, c),
                ', ' ORDER BY i)
              FROM pg_catalog.unnest(p_columns) WITH ORDINALITY AS u(c, i))
        || ']::text[], NULL))' END
$fn$;
ALTER FUNCTION pgaudit_kit.old_values_sql(text[], text[], text[], text[], text, text, text, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.old_values_sql(text[], text[], text[], text[], text, text, text, text) IS
    'pgaudit-kit: SQL of the previous values of changed columns';
