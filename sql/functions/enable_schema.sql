-- pgaudit-kit: pgaudit_kit.enable_schema(...) / disable_schema(schema, reason)
-- Marks a schema for auto-enrolment: every table created in it later is enrolled, with these options,
-- by the transaction that creates it. With p_existing, also enrols the tables it already has that are not
-- enrolled yet (returns how many).
CREATE OR REPLACE FUNCTION pgaudit_kit.enable_schema(p_schema text,
                                          p_existing boolean DEFAULT false,
                                          p_excluded_columns text[] DEFAULT '{}',
                                          p_redacted_columns text[] DEFAULT '{}',
                                          p_truncate text DEFAULT 'capture',
                                          p_capture_statement boolean DEFAULT false) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_count integer := 0;
  v_table regclass;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = p_schema) THEN
    RAISE EXCEPTION 'pgaudit-kit: schema % does not exist', pg_catalog.quote_ident(p_schema)
      USING ERRCODE = 'invalid_schema_name';
  END IF;
  IF p_schema IN ('pgaudit_kit', 'pg_catalog', 'information_schema') THEN
    RAISE EXCEPTION 'pgaudit-kit: schema % cannot be audited', p_schema USING ERRCODE = 'wrong_object_type';
  END IF;
  IF p_truncate IS NULL OR p_truncate NOT IN ('capture', 'refuse') THEN
    RAISE EXCEPTION 'pgaudit-kit: truncate policy must be capture or refuse, not %', p_truncate
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgaudit_kit.auto_enrol_schema AS s (schema_name, excluded_columns, redacted_columns,
                                                  truncate_policy, capture_statement)
  VALUES (p_schema, COALESCE(p_excluded_columns, '{}'), COALESCE(p_redacted_columns, '{}'), p_truncate,
          p_capture_statement)
  ON CONFLICT (schema_name) DO UPDATE SET excluded_columns = excluded.excluded_columns,
      redacted_columns = excluded.redacted_columns, truncate_policy = excluded.truncate_policy,
      capture_statement = excluded.capture_statement;
  PERFORM pgaudit_kit.record_control_event('enable_schema', NULL, p_schema, NULL,
      pg_catalog.jsonb_build_object('existing', p_existing, 'options', pg_catalog.jsonb_build_object(
          'excluded_columns', p_excluded_columns, 'redacted_columns', p_redacted_columns,
          'truncate', p_truncate, 'capture_statement', p_capture_statement)));
  IF p_existing THEN
    FOR v_table IN
      SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = p_schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND c.relpersistence <> 't'
         -- inheritance children are enrolled through their parent
         AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)
         -- an enrolled table keeps its own options: changed only by enable_table, never weakened by omission
         AND NOT EXISTS (SELECT FROM pgaudit_kit.enrolled_table e WHERE e.relid = c.oid)
       ORDER BY c.relname
    LOOP
      PERFORM pgaudit_kit.enable_table(v_table,
          pgaudit_kit.existing_columns(v_table, p_excluded_columns),
          pgaudit_kit.existing_columns(v_table, p_redacted_columns),
          p_truncate, p_capture_statement);
      v_count := v_count + 1;
    END LOOP;
  END IF;
  RETURN v_count;
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.enable_schema(text, boolean, text[], text[], text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.enable_schema(text, boolean, text[], text[], text, boolean) IS
    'pgaudit-kit: auto-enrol new tables of a schema (and optionally its existing ones)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.enable_schema(text, boolean, text[], text[], text, boolean) TO pgaudit_kit_admin;
