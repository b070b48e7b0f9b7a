-- pgaudit_kit.follow_column_rename(table, attnum) -- a redacted or excluded column that is renamed keeps
-- its option under the new name (re-enrolment, recorded as an options change). Without this, capture
-- regenerated after the rename would no longer know the column and record it in clear. Runs before the
-- kit's ddl_command_end trigger regenerates capture (event triggers fire in name order).
CREATE OR REPLACE FUNCTION pgaudit_kit.follow_column_rename(p_relid oid, p_attnum smallint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_new text;
  v_old text[];
BEGIN
  SELECT * INTO cfg FROM pgaudit_kit.enrolled_table WHERE relid = p_relid;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT a.attname::text INTO v_new FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = p_relid AND a.attnum = p_attnum AND NOT a.attisdropped;
  v_old := ARRAY(SELECT c FROM pg_catalog.unnest(cfg.excluded_columns || cfg.redacted_columns) c
                  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                                     WHERE a.attrelid = p_relid AND a.attname = c AND NOT a.attisdropped));
  -- a rename reports the renamed column; exactly one option name is gone: that was its old name
  IF v_new IS NULL OR pg_catalog.cardinality(v_old) <> 1 OR v_new = ANY (cfg.excluded_columns || cfg.redacted_columns) THEN
    RETURN;
  END IF;
  PERFORM pgaudit_kit.enable_table(p_relid::regclass,
      pg_catalog.array_replace(cfg.excluded_columns, v_old[1], v_new),
      pg_catalog.array_replace(cfg.redacted_columns, v_old[1], v_new),
      cfg.truncate_policy, cfg.capture_statement);
END
$fn$;
ALTER FUNCTION pgaudit_kit.follow_column_rename(oid, smallint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.follow_column_rename(oid, smallint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.follow_column_rename(oid, smallint) IS
    'pgaudit-kit: a renamed redacted or excluded column keeps its option';
