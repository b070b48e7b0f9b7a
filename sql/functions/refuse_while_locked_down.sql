-- pgaudit_kit.refuse_while_locked_down() -- true when the newest lockdown row unlocks (or there is none),
-- otherwise the error that refuses the transaction's audited write. Called by pgaudit_kit.check_lockdown().
CREATE OR REPLACE FUNCTION pgaudit_kit.refuse_while_locked_down() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_lock record;
BEGIN
  SELECT l.locked, l.reason, l.acted_by, l.acted_at INTO v_lock
    FROM pgaudit_kit.lockdown_event l ORDER BY l.id DESC LIMIT 1;
  IF FOUND AND v_lock.locked THEN
    RAISE EXCEPTION USING
      ERRCODE = 'object_not_in_prerequisite_state',
      MESSAGE = pg_catalog.format('pgaudit-kit: audited writes are locked down (since %s, by %s): %s',
                                  pg_catalog.to_char(v_lock.acted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                  v_lock.acted_by, v_lock.reason),
      HINT = 'An admin lifts the lockdown with: pgaudit-kit unlock --reason TEXT';
  END IF;
  RETURN true;
END
$fn$;
ALTER FUNCTION pgaudit_kit.refuse_while_locked_down() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.refuse_while_locked_down() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refuse_while_locked_down() IS
    'pgaudit-kit: true, or the error that refuses audited writes while the kit is locked down';
