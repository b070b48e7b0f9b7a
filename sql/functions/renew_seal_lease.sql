-- pgaudit_kit.renew_seal_lease(seconds): a `seal --follow` process takes over sealing from the writers for the
-- next 1 .. 3600 seconds (never shortening another follower's lease), or gives it back with 0.
CREATE OR REPLACE FUNCTION pgaudit_kit.renew_seal_lease(p_seconds integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_until bigint;
BEGIN
  IF p_seconds IS NULL OR p_seconds < 0 OR p_seconds > 3600 THEN
    RAISE EXCEPTION 'pgaudit-kit: a seal lease lasts 0 to 3600 seconds, not %', p_seconds
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_seconds = 0 THEN
    PERFORM pg_catalog.setval('pgaudit_kit.seal_lease'::regclass, 0);
    RETURN;
  END IF;
  v_until := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()))::bigint + p_seconds;
  IF v_until > COALESCE(pg_catalog.pg_sequence_last_value('pgaudit_kit.seal_lease'::regclass), 0) THEN
    PERFORM pg_catalog.setval('pgaudit_kit.seal_lease'::regclass, v_until);
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.renew_seal_lease(integer) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.renew_seal_lease(integer) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.renew_seal_lease(integer) IS
    'pgaudit-kit: a seal --follow process seals for the next N seconds (writers do not seal at commit); 0 gives it back';
GRANT EXECUTE ON FUNCTION pgaudit_kit.renew_seal_lease(integer) TO pgaudit_kit_admin;
