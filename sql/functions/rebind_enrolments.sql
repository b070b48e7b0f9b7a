-- pgaudit-kit: pgaudit_kit.rebind_enrolments() -> integer
-- After pg_dump/pg_restore (or pg_upgrade with a dump) every table has a new OID, while enrolment,
-- capture function names and the relid recorded in events still use the old one. This finds enrolled
-- tables by schema and name again, moves their enrolment to the new OID and regenerates capture
-- (recorded as a control event). `pgaudit-kit install` runs it; verify reports the stale state until then.
CREATE OR REPLACE FUNCTION pgaudit_kit.rebind_enrolments() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_new regclass;
  v_count integer := 0;
BEGIN
  FOR cfg IN SELECT * FROM pgaudit_kit.enrolled_table e
              WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = e.relid) LOOP
    v_new := pg_catalog.to_regclass(pg_catalog.format('%I.%I', cfg.schema_name, cfg.table_name));
    CONTINUE WHEN v_new IS NULL;
    DELETE FROM pgaudit_kit.enrolled_table WHERE relid = cfg.relid;
    -- the restored triggers still call the function named after the old OID: it goes, and they with it
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS pgaudit_kit.%I() CASCADE', 'capture_' || cfg.relid);
    PERFORM pgaudit_kit.enable_table(v_new, cfg.excluded_columns, cfg.redacted_columns, cfg.truncate_policy,
                                     cfg.capture_statement);
    PERFORM pgaudit_kit.record_control_event('rebind', v_new, cfg.schema_name, cfg.table_name,
        pg_catalog.jsonb_build_object('old_relid', cfg.relid));
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.rebind_enrolments() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.rebind_enrolments() IS
    'pgaudit-kit: move enrolments to new table OIDs after a dump/restore and regenerate capture';
