-- pgaudit-kit: cluster-wide roles.
-- Roles are shared by every database of the cluster, so another database may already have created
-- them: creation is idempotent and tolerates a concurrent installer winning the race.
--   pgaudit_kit_owner  NOLOGIN owner of every kit object; capture functions run as this role.
--                      BYPASSRLS: a TRUNCATE must be recorded with every row it removes, including
--                      rows that row-level security would hide from the truncating role.
--   pgaudit_kit_admin  may enrol/disenrol tables and run the kit's control functions.
--   pgaudit_kit_reader may review recorded history.
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['pgaudit_kit_owner', 'pgaudit_kit_admin', 'pgaudit_kit_reader'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- a concurrent install in another database created it first: same role, same purpose
      END;
    END IF;
  END LOOP;
  ALTER ROLE pgaudit_kit_owner NOLOGIN BYPASSRLS;
END
$roles$;
