-- pgaudit_kit.refuse_guard_drop() -- sql_drop, the twin in the kit's schema: refuses dropping the guard
-- schema or its function (which would take pgaudit_kit_guard.refuse_drop with it unseen).
CREATE OR REPLACE FUNCTION pgaudit_kit.refuse_guard_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_gone text;
BEGIN
  SELECT o.object_identity INTO v_gone FROM pg_catalog.pg_event_trigger_dropped_objects() o
   WHERE o.schema_name = 'pgaudit_kit_guard' OR (o.object_type = 'schema' AND o.object_identity = 'pgaudit_kit_guard')
   LIMIT 1;
  IF v_gone IS NOT NULL AND NOT pgaudit_kit.in_maintenance() THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: %s would drop %s: refused, it guards the audit history', TG_TAG, v_gone),
      HINT = 'To remove the kit (refused while history exists): pgaudit-kit uninstall.';
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.refuse_guard_drop() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.refuse_guard_drop() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refuse_guard_drop() IS 'pgaudit-kit: refuse dropping the guard schema';
