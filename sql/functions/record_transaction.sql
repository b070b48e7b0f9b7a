-- pgaudit_kit.record_transaction() -- the kit's own recording paths (DDL and control events) and TRUNCATE
-- capture call it before their first event of a transaction: refuses the transaction while the kit is locked
-- down (pgaudit_kit.check_lockdown()), then writes its who/where row (once). Capture of INSERT, UPDATE and
-- DELETE does the same without calling it: its first event's statement writes the row too.
-- Callers assign `v := pgaudit_kit.record_transaction() IS NOT NULL` (a plain expression, where PERFORM would
-- run a query: an executor started and stopped).
CREATE OR REPLACE FUNCTION pgaudit_kit.record_transaction() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_done boolean;
BEGIN
  IF pgaudit_kit.transaction_recorded() THEN
    RETURN;
  END IF;
  v_done := pgaudit_kit.check_lockdown();
  v_done := pgaudit_kit.write_transaction_row() IS NOT NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_transaction() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_transaction() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_transaction() IS 'pgaudit-kit: record who/where for the current transaction (once)';
