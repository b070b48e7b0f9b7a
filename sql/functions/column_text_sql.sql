-- pgaudit-kit: SQL fragment builders used only by pgaudit_kit.capture_function_source.
--   column_text_sql: a column's exact text output. ::text for every type except bpchar (and domains
--                    over it), whose cast to text strips trailing blanks: those go through bpcharout.
--   values_sql: text[] of a row's recorded values (redacted columns as keyed digests);
--   image_sql: jsonb object {column: recorded value} of a row, jsonb_object of the names and values_sql.
--   pk_sql: jsonb object of the primary key columns, or NULL for tables without one.
--   old_values_sql: the old image minus the columns whose text output did not change.
-- All columns are referenced qualified by an alias (alias.column), so no column name can collide
-- with the generated function's variables or the transition table aliases.
CREATE OR REPLACE FUNCTION pgaudit_kit.column_text_sql(p_column text, p_bpchar text[], p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_column = ANY (p_bpchar)
    THEN pg_catalog.format('pg_catalog.textin(pg_catalog.bpcharout(%s.%I))', p_alias, p_column)
    ELSE pg_catalog.format('%s.%I::text', p_alias, p_column) END
$fn$;
ALTER FUNCTION pgaudit_kit.column_text_sql(text, text[], text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.column_text_sql(text, text[], text) IS 'pgaudit-kit: SQL of a column''s exact text output';
