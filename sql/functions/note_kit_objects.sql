-- pgaudit_kit.note_kit_objects() -- ddl_command_start: remembers kit_object_count() for the command's
-- end (a transaction-local setting, overwritten at the start of every command).
CREATE OR REPLACE FUNCTION pgaudit_kit.note_kit_objects() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF pg_catalog.to_regnamespace('pgaudit_kit') IS NOT NULL THEN
    PERFORM pg_catalog.set_config('pgaudit_kit.kit_objects_before', pgaudit_kit.kit_object_count()::text, true);
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.note_kit_objects() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.note_kit_objects() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.note_kit_objects() IS 'pgaudit-kit: count the kit''s objects before a DDL command';
