-- pgaudit_kit.refresh_enrolment(oid): regenerate capture after a DDL changed an enrolled table's shape.
CREATE OR REPLACE FUNCTION pgaudit_kit.refresh_enrolment(p_relid oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
BEGIN
  SELECT * INTO cfg FROM pgaudit_kit.enrolled_table WHERE relid = p_relid;
  IF FOUND AND cfg.shape_signature IS DISTINCT FROM pgaudit_kit.table_shape_signature(p_relid) THEN
    PERFORM pgaudit_kit.enable_table(p_relid::regclass,
        pgaudit_kit.existing_columns(p_relid, cfg.excluded_columns),
        pgaudit_kit.existing_columns(p_relid, cfg.redacted_columns),
        cfg.truncate_policy, cfg.capture_statement);
  END IF;
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.refresh_enrolment(oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refresh_enrolment(oid) IS
    'pgaudit-kit: regenerate capture of an enrolled table whose shape changed';
