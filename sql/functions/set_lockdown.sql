-- pgaudit-kit: pgaudit_kit.lockdown(reason) / unlock(reason) / lockdown_state()
-- Lockdown refuses every transaction that would write audited rows (or change enrolment, or run DDL in
-- audited schemas) until an admin unlocks. Both are recorded as control events with who and why. The
-- recording transaction is then made read-only: nothing else can ride on it past the lockdown check.
CREATE OR REPLACE FUNCTION pgaudit_kit.set_lockdown(p_locked boolean, p_reason text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_by text := pgaudit_kit.acted_by();
  v_current boolean;
BEGIN
  IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' THEN
    RAISE EXCEPTION 'pgaudit-kit: a reason is required to % audited writes',
      CASE WHEN p_locked THEN 'lock down' ELSE 'unlock' END USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- one lockdown change at a time, so the newest row is always the state that was acted on
  LOCK TABLE pgaudit_kit.lockdown_event IN SHARE ROW EXCLUSIVE MODE;
  SELECT l.locked INTO v_current FROM pgaudit_kit.lockdown_event l ORDER BY l.id DESC LIMIT 1;
  IF COALESCE(v_current, false) = p_locked THEN
    RETURN false;
  END IF;
  -- ids follow the table, not its sequence: a role that may setval() (pg_write_all_data) must not be able
  -- to slip a lockdown in under an earlier unlock
  INSERT INTO pgaudit_kit.lockdown_event (id, locked, reason, acted_by) OVERRIDING SYSTEM VALUE
  VALUES (GREATEST((SELECT COALESCE(pg_catalog.max(l.id), 0) + 1 FROM pgaudit_kit.lockdown_event l),
                              pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('pgaudit_kit.lockdown_event', 'id'))),
          p_locked, p_reason, v_by);
  PERFORM pgaudit_kit.write_transaction_row();
  INSERT INTO pgaudit_kit.event (xid, statement_ts, op, row_data, statement)
  VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.statement_timestamp(), 'K',
          pg_catalog.jsonb_build_object('action', CASE WHEN p_locked THEN 'lockdown' ELSE 'unlock' END,
                                        'reason', p_reason),
          pg_catalog.current_query());
  PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
  RETURN true;
END
$fn$;
ALTER FUNCTION pgaudit_kit.set_lockdown(boolean, text) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.set_lockdown(boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.set_lockdown(boolean, text) IS
    'pgaudit-kit: lock down (true) or unlock (false) audited writes; returns false when already so; recorded';
