-- pgaudit-kit: pgaudit_kit.disable_schema -- stop auto-enrolling new tables of a schema (its enrolled tables stay enrolled)
CREATE OR REPLACE FUNCTION pgaudit_kit.disable_schema(p_schema text, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' THEN
    RAISE EXCEPTION 'pgaudit-kit: a reason is required to stop auto-enrolment of %', p_schema
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM pgaudit_kit.auto_enrol_schema WHERE schema_name = p_schema;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgaudit-kit: schema % is not set to auto-enrol', p_schema USING ERRCODE = 'undefined_object';
  END IF;
  PERFORM pgaudit_kit.record_control_event('disable_schema', NULL, p_schema, NULL,
      pg_catalog.jsonb_build_object('reason', p_reason));
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.disable_schema(text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.disable_schema(text, text) IS
    'pgaudit-kit: stop auto-enrolling new tables of a schema (its enrolled tables stay enrolled)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.disable_schema(text, text) TO pgaudit_kit_admin;
