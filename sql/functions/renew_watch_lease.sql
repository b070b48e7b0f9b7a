-- pgaudit_kit.renew_watch_lease(seconds) -> boolean: extend the lease to now + seconds (1 .. 3600); never
-- shortens another watcher's. Returns false (and changes nothing) when notifications cannot be used.
CREATE OR REPLACE FUNCTION pgaudit_kit.renew_watch_lease(p_seconds integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_until bigint;
BEGIN
  IF p_seconds IS NULL OR p_seconds < 1 OR p_seconds > 3600 THEN
    RAISE EXCEPTION 'pgaudit-kit: a watch lease lasts 1 to 3600 seconds, not %', p_seconds
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF pg_catalog.current_setting('max_prepared_transactions') <> '0' THEN
    RETURN false;
  END IF;
  v_until := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()))::bigint + p_seconds;
  IF v_until > (SELECT s.last_value FROM pgaudit_kit.watch_lease s) THEN
    PERFORM pg_catalog.setval('pgaudit_kit.watch_lease'::regclass, v_until);
  END IF;
  RETURN true;
END
$fn$;
ALTER FUNCTION pgaudit_kit.renew_watch_lease(integer) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.renew_watch_lease(integer) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.renew_watch_lease(integer) IS
    'pgaudit-kit: keep notifying watchers of new events for the next N seconds (false: notifications unavailable)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.renew_watch_lease(integer) TO pgaudit_kit_admin, pgaudit_kit_reader;
