-- pgaudit-kit: pgaudit_kit.column_value_sql -- SQL of one recorded column value
CREATE OR REPLACE FUNCTION pgaudit_kit.column_value_sql(p_column text, p_bpchar text[], p_redacted text[], p_alias text,
                                             p_ipad text, p_opad text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_column = ANY (p_redacted)
    THEN pg_catalog.format('pgaudit_kit.redact(%s, %s, %s)',
                           pgaudit_kit.column_text_sql(p_column, p_bpchar, p_alias), p_ipad, p_opad)
    ELSE pgaudit_kit.column_text_sql(p_column, p_bpchar, p_alias) END
$fn$;
ALTER FUNCTION pgaudit_kit.column_value_sql(text, text[], text[], text, text, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.column_value_sql(text, text[], text[], text, text, text) IS
    'pgaudit-kit: SQL of one recorded column value';
