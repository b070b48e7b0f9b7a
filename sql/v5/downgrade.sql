-- pgaudit-kit v5 downgrade, run after the v4 definitions of the functions v5 replaced are back (see
-- migrations/versions/0005_v5_write_path.py): regenerate capture functions with the v1 generator, then
-- drop what only v5 has.
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
DROP FUNCTION pgaudit_kit.capture_settings(oid);
DROP FUNCTION pgaudit_kit.output_settings(oid);
