-- pgaudit-kit v1: SQL fragment builders used only by pgaudit_kit.capture_function_source.
--   column_text_sql: a column's exact text output. ::text for every type except bpchar (and domains
--                    over it), whose cast to text strips trailing blanks: those go through bpcharout.
--   image_sql: jsonb object {column: text output} of a row (redacted columns as keyed digests);
--              jsonb_build_object takes at most 100 arguments, so columns go in chunks of 50.
--   pk_sql: jsonb object of the primary key columns, or NULL for tables without one.
--   old_values_sql: the old image minus the columns whose text output did not change.
-- All columns are referenced qualified by an alias (alias.column), so no column name can collide
-- with the generated function's variables or the transition table aliases.
CREATE FUNCTION pgaudit_kit.column_text_sql(p_column text, p_bpchar text[], p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_column = ANY (p_bpchar)
    THEN pg_catalog.format('pg_catalog.textin(pg_catalog.bpcharout(%s.%I))', p_alias, p_column)
    ELSE pg_catalog.format('%s.%I::text', p_alias, p_column) END
$fn$;

CREATE FUNCTION pgaudit_kit.column_value_sql(p_column text, p_bpchar text[], p_redacted text[], p_alias text,
                                             p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_column = ANY (p_redacted)
    THEN pg_catalog.format('pgaudit_kit.redact(%s, %s, %s)',
                           pgaudit_kit.column_text_sql(p_column, p_bpchar, p_alias), p_ipad, p_opad)
    ELSE pgaudit_kit.column_text_sql(p_column, p_bpchar, p_alias) END
$fn$;

CREATE FUNCTION pgaudit_kit.image_sql(p_columns text[], p_bpchar text[], p_redacted text[], p_alias text,
                                      p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT COALESCE(pg_catalog.string_agg(chunk, ' || ' ORDER BY g), '''{}''::jsonb')
    FROM (SELECT (i - 1) / 50 AS g,
                 'pg_catalog.jsonb_build_object(' || pg_catalog.string_agg(pg_catalog.format('%L, %s',
                     p_columns[i], pgaudit_kit.column_value_sql(p_columns[i], p_bpchar, p_redacted, p_alias, p_ipad,
                                                                p_opad)),
                     ', ' ORDER BY i) || ')' AS chunk
            FROM pg_catalog.generate_subscripts(p_columns, 1) AS i
           GROUP BY 1) chunks
$fn$;

CREATE FUNCTION pgaudit_kit.pk_sql(p_pk_columns text[], p_bpchar text[], p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_pk_columns IS NULL THEN 'NULL::jsonb'
    ELSE pgaudit_kit.image_sql(p_pk_columns, p_bpchar, '{}', p_alias, 'NULL', 'NULL') END
$fn$;

CREATE FUNCTION pgaudit_kit.old_values_sql(p_columns text[], p_bpchar text[], p_redacted text[], p_old text,
                                           p_new text, p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN pg_catalog.cardinality(p_columns) = 0 THEN '''{}''::jsonb' ELSE
    '(' || pgaudit_kit.image_sql(p_columns, p_bpchar, p_redacted, p_old, p_ipad, p_opad)
        || ' OPERATOR(pg_catalog.-) pg_catalog.array_remove(ARRAY['
        || (SELECT pg_catalog.string_agg(pg_catalog.format('CASE WHEN %s IS NOT DISTINCT FROM %s THEN %L END',
                pgaudit_kit.column_text_sql(c, p_bpchar, p_old), pgaudit_kit.column_text_sql(c, p_bpchar, p_new), c),
                ', ' ORDER BY i)
              FROM pg_catalog.unnest(p_columns) WITH ORDINALITY AS u(c, i))
        || ']::text[], NULL))' END
$fn$;

ALTER FUNCTION pgaudit_kit.column_text_sql(text, text[], text) OWNER TO pgaudit_kit_owner;
ALTER FUNCTION pgaudit_kit.column_value_sql(text, text[], text[], text, text, text) OWNER TO pgaudit_kit_owner;
ALTER FUNCTION pgaudit_kit.image_sql(text[], text[], text[], text, text, text) OWNER TO pgaudit_kit_owner;
ALTER FUNCTION pgaudit_kit.pk_sql(text[], text[], text) OWNER TO pgaudit_kit_owner;
ALTER FUNCTION pgaudit_kit.old_values_sql(text[], text[], text[], text, text, text, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.column_text_sql(text, text[], text) IS 'pgaudit-kit: SQL of a column''s exact text output';
COMMENT ON FUNCTION pgaudit_kit.column_value_sql(text, text[], text[], text, text, text) IS
    'pgaudit-kit: SQL of one recorded column value';
COMMENT ON FUNCTION pgaudit_kit.image_sql(text[], text[], text[], text, text, text) IS 'pgaudit-kit: SQL of a row image';
COMMENT ON FUNCTION pgaudit_kit.pk_sql(text[], text[], text) IS 'pgaudit-kit: SQL of a primary key image';
COMMENT ON FUNCTION pgaudit_kit.old_values_sql(text[], text[], text[], text, text, text, text) IS
    'pgaudit-kit: SQL of the previous values of changed columns';
