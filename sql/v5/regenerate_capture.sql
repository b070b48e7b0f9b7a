-- pgaudit-kit v5: regenerate the capture function of every enrolled table with the installed generator:
-- on upgrade v5's (its SET clauses now follow the table's column types), on downgrade v1's once it is
-- back. CREATE OR REPLACE keeps the function's owner and privileges, and the triggers keep calling it.
-- A table that no longer exists (a restore into a new cluster) is left to
-- pgaudit_kit.rebind_enrolments(), which install runs next.
-- The kit's objects change only in a maintenance window (revision 0003's DDL guards). The migration opens
-- one for the revision; applied file by file (the MANIFEST), each file opens its own.
DO $maintenance$
BEGIN
  IF NOT pgaudit_kit.in_maintenance() THEN
    PERFORM pgaudit_kit.begin_maintenance('pgaudit-kit schema change: v5');
  END IF;
END
$maintenance$;
DO $regenerate$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT e.relid FROM pgaudit_kit.enrolled_table e
            WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = e.relid) LOOP
    EXECUTE pgaudit_kit.capture_function_source(r.relid);
  END LOOP;
END
$regenerate$;
