-- pgaudit_kit.record_transaction() -- called by capture at a transaction's first audited statement and by
-- control and DDL recording: refuses the transaction while the kit is locked down, then writes its row.
-- Checked once per transaction (later statements find it recorded): a transaction that had already written
-- audited rows when the lockdown committed may finish; every one that starts writing after it is refused.
CREATE OR REPLACE FUNCTION pgaudit_kit.record_transaction() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_lock record;
BEGIN
  IF pgaudit_kit.transaction_recorded() THEN
    RETURN;
  END IF;
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
  PERFORM pgaudit_kit.write_transaction_row();
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_transaction() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_transaction() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_transaction() IS 'pgaudit-kit: record who/where for the current transaction (once)';
