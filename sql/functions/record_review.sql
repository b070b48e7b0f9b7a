-- pgaudit-kit: pgaudit_kit.record_review(command, filter) -> event id
-- Every read of history through the kit (verify, prove, reconcile, log, history, tx, watch) is recorded
-- first, as an event with op 'R' in the same sealed log: who (the transaction's roles), when, which
-- command and which filter. Works during a lockdown (reviewing is what a lockdown is for); under one,
-- the recording transaction is then made read-only so no write can ride on it.
CREATE OR REPLACE FUNCTION pgaudit_kit.record_review(p_command text, p_filter jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_id bigint;
  v_rows bigint;
BEGIN
  IF p_command IS NULL OR p_command !~ '^[a-z][a-z-]{0,30}$' THEN
    RAISE EXCEPTION 'pgaudit-kit: review command must be a lower-case command name, not %', p_command
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgaudit_kit.write_transaction_row();
  -- No RETURNING and a row count check: a rule or trigger slipped onto the event table (with the
  -- guards disabled) must make this fail loudly, not pass silently.
  INSERT INTO pgaudit_kit.event (xid, statement_ts, op, row_data)
  VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.statement_timestamp(), 'R',
          pg_catalog.jsonb_build_object('command', p_command, 'filter', COALESCE(p_filter, '{}')));
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> 1 THEN
    RAISE EXCEPTION 'pgaudit-kit: the review could not be recorded: pgaudit_kit.event did not store it'
      USING ERRCODE = 'data_corrupted', HINT = 'A rule or trigger on pgaudit_kit.event interferes; run pgaudit-kit verify.';
  END IF;
  v_id := pg_catalog.currval(pg_catalog.pg_get_serial_sequence('pgaudit_kit.event', 'id'));
  IF (SELECT l.locked FROM pgaudit_kit.lockdown_event l ORDER BY l.id DESC LIMIT 1) THEN
    PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
  END IF;
  RETURN v_id;
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_review(text, jsonb) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_review(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_review(text, jsonb) IS
    'pgaudit-kit: record a read of history (op R): who, when, which command and filter';
GRANT EXECUTE ON FUNCTION pgaudit_kit.record_review(text, jsonb) TO pgaudit_kit_admin, pgaudit_kit_reader;
