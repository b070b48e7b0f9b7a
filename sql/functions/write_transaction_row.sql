-- pgaudit_kit.write_transaction_row() -- writes the who/where row of the current transaction once (the statement
-- of pgaudit_kit.transaction_row_sql()) and marks it written (pgaudit_kit.mark_transaction_recorded()), without
-- the lockdown check: called directly only by paths that must work during a lockdown (lockdown, unlock, review
-- events and maintenance), and by pgaudit_kit.record_transaction(). These paths are rare, so the statement is
-- run dynamically rather than kept here a second time.
CREATE OR REPLACE FUNCTION pgaudit_kit.write_transaction_row() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_marked boolean;
BEGIN
  IF pgaudit_kit.transaction_recorded() THEN
    RETURN;
  END IF;
  EXECUTE pgaudit_kit.transaction_row_sql();
  v_marked := pgaudit_kit.mark_transaction_recorded();
END
$fn$;
ALTER FUNCTION pgaudit_kit.write_transaction_row() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.write_transaction_row() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.write_transaction_row() IS
    'pgaudit-kit: write the who/where row of the current transaction (once), without the lockdown check';
