-- pgaudit-kit: pgaudit_kit.chunk_keys_sql -- SQL of a chunk's primary key array (pgaudit_kit.event_chunk.pks): the
-- key values of each row, as pk_sql records them (never redacted), or NULL for a table without a primary key.
CREATE OR REPLACE FUNCTION pgaudit_kit.chunk_keys_sql(p_pk_columns text[], p_bpchar text[], p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN p_pk_columns IS NULL THEN 'NULL' ELSE
    pg_catalog.format('pg_catalog.array_agg(%s)', pgaudit_kit.values_sql(p_pk_columns, p_bpchar, '{}', p_alias,
                                                                           'NULL', 'NULL')) END
$fn$;
ALTER FUNCTION pgaudit_kit.chunk_keys_sql(text[], text[], text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.chunk_keys_sql(text[], text[], text) IS 'pgaudit-kit: SQL of a chunk''s primary key array';
