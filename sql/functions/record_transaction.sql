-- pgaudit_kit.record_transaction() -- called by capture at a transaction's first audited statement and by
-- control and DDL recording: refuses the transaction while the kit is locked down, then writes its row.
-- Checked once per transaction (later statements find it recorded): a transaction that had already written
-- audited rows when the lockdown committed may finish; every one that starts writing after it is refused.
-- A database that never had a lockdown row skips the query: the identity sequence of lockdown_event is then
-- still unused (pg_sequence_last_value() is NULL; a lockdown draws from it before its row exists), a check
-- that reads no table (a query per transaction was about 5 us of its capture).
-- Capture calls it as `v := pgaudit_kit.record_transaction() IS NOT NULL` (a plain expression; see
-- pgaudit_kit.write_transaction_row), and so does it with write_transaction_row.
CREATE OR REPLACE FUNCTION pgaudit_kit.record_transaction() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_lock record;
  v_written boolean;
BEGIN
  IF pgaudit_kit.transaction_recorded() THEN
    RETURN;
  END IF;
  IF pg_catalog.pg_sequence_last_value('pgaudit_kit.lockdown_event_id_seq'::regclass) IS NOT NULL THEN
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
  END IF;
  v_written := pgaudit_kit.write_transaction_row() IS NOT NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_transaction() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_transaction() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_transaction() IS 'pgaudit-kit: record who/where for the current transaction (once)';
