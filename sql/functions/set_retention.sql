-- pgaudit-kit: pgaudit_kit.set_retention(min_age) -- sets the minimum retention period of audit history: nothing
-- sealed more recently than this can be retired (pgaudit_kit.retire), whoever asks. Raise-only, like a NO DELETE
-- UNTIL clause: a shorter period than the one in force is refused, for every role. Recorded as a control event.
-- Returns false when that period is already in force.
CREATE OR REPLACE FUNCTION pgaudit_kit.set_retention(p_min_age interval) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_by text := pgaudit_kit.acted_by();
  v_current interval;
BEGIN
  IF p_min_age IS NULL OR p_min_age <= '0'::interval THEN
    RAISE EXCEPTION 'pgaudit-kit: a retention period must be longer than zero' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- one change at a time, so that the period in force is the one compared with
  LOCK TABLE pgaudit_kit.retention IN SHARE ROW EXCLUSIVE MODE;
  SELECT pg_catalog.max(r.min_age) INTO v_current FROM pgaudit_kit.retention r;
  IF v_current > p_min_age THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: refused: the retention period in force is %s; it can be raised, '
                                  'never lowered', v_current);
  ELSIF v_current = p_min_age THEN
    RETURN false;
  END IF;
  INSERT INTO pgaudit_kit.retention (min_age, set_by) VALUES (p_min_age, v_by);
  PERFORM pgaudit_kit.record_control_event('retention', NULL, NULL, NULL,
    pg_catalog.jsonb_build_object('min_age', p_min_age::text, 'previous', v_current::text));
  RETURN true;
END
$fn$;
ALTER FUNCTION pgaudit_kit.set_retention(interval) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.set_retention(interval) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.set_retention(interval) IS
    'pgaudit-kit: set the minimum retention period of audit history (raise-only; admin; recorded)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.set_retention(interval) TO pgaudit_kit_admin;
