-- pgaudit-kit: pgaudit_kit.disable_table(table, reason) -- the only way out of enrolment.
-- Requires a non-empty reason; drops the table's capture triggers and function and records who did it
-- and why as a control event, in the caller's transaction.
CREATE OR REPLACE FUNCTION pgaudit_kit.disable_table(p_table regclass, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_part regclass;
BEGIN
  IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' THEN
    RAISE EXCEPTION 'pgaudit-kit: a reason is required to stop auditing %', p_table
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO cfg FROM pgaudit_kit.enrolled_table WHERE relid = p_table;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgaudit-kit: % is not enrolled', p_table USING ERRCODE = 'undefined_object';
  END IF;
  PERFORM pgaudit_kit.drop_capture_triggers(p_table);
  FOR v_part IN SELECT p_table::oid UNION SELECT p.relid FROM pg_catalog.pg_partition_tree(p_table) p LOOP
    EXECUTE pg_catalog.format('REVOKE SELECT ON %s FROM pgaudit_kit_owner', v_part);
  END LOOP;
  EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS pgaudit_kit.%I()', 'capture_' || p_table::oid);
  DELETE FROM pgaudit_kit.enrolled_table WHERE relid = p_table;
  PERFORM pgaudit_kit.record_control_event('disable', p_table, cfg.schema_name, cfg.table_name,
      pg_catalog.jsonb_build_object('reason', p_reason));
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.disable_table(regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.disable_table(regclass, text) IS
    'pgaudit-kit: stop auditing a table; needs a reason, recorded with who and why';
GRANT EXECUTE ON FUNCTION pgaudit_kit.disable_table(regclass, text) TO pgaudit_kit_admin;
