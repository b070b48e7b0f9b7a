-- pgaudit-kit: regenerate the capture function of every enrolled table with the installed generator
-- (pgaudit_kit.capture_function_source), after every upgrade: a revision that changes the generator changes
-- every table's capture. CREATE OR REPLACE keeps each function's owner and privileges, and the triggers keep
-- calling it. A table that no longer exists (a restore into a new cluster) is left to
-- pgaudit_kit.rebind_enrolments(), which install runs next. On a fresh install nothing is enrolled yet.
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
