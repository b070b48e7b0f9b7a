-- pgaudit-kit: pgaudit_kit.drop_capture_triggers -- drop the capture triggers of a table
CREATE OR REPLACE FUNCTION pgaudit_kit.drop_capture_triggers(p_relid oid) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
  v_trigger record;
BEGIN
  -- The kit's triggers are those calling the table's capture function, wherever they are (a detached
  -- partition keeps its TRUNCATE trigger), plus any left by name on the current tree. Cloned partition
  -- triggers go with their parent's.
  FOR v_trigger IN
    SELECT t.tgname, t.tgrelid::regclass AS rel FROM pg_catalog.pg_trigger t
     WHERE t.tgparentid = 0
       AND (t.tgfoid = pg_catalog.to_regprocedure(pg_catalog.format('pgaudit_kit.%I()', 'capture_' || p_relid))
            OR (t.tgname::text LIKE 'pgaudit\_kit\_capture\_%'
                AND t.tgrelid IN (SELECT p_relid UNION SELECT p.relid FROM pg_catalog.pg_partition_tree(p_relid) p)))
  LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', v_trigger.tgname, v_trigger.rel);
  END LOOP;
END
$fn$;
ALTER FUNCTION pgaudit_kit.drop_capture_triggers(oid) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.drop_capture_triggers(oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.drop_capture_triggers(oid) IS 'pgaudit-kit: drop the capture triggers of a table';
