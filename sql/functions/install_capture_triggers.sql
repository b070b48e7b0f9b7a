-- pgaudit-kit: pgaudit_kit.install_capture_triggers(oid) -- (re)creates the kit's triggers on an
-- enrolled table and enables them ALWAYS, so session_replication_role = replica does not skip them.
-- statement mode: AFTER INSERT / UPDATE / DELETE statement triggers with transition tables.
-- row mode: one AFTER row trigger (on a partitioned table PostgreSQL clones it to every partition,
-- present and future). TRUNCATE: a BEFORE statement trigger on the table and on every partition.
-- Runs as its caller (enable_table, itself SECURITY DEFINER as the installing superuser): creating
-- triggers needs ownership of the user's table, which the NOLOGIN kit owner deliberately lacks.
CREATE OR REPLACE FUNCTION pgaudit_kit.install_capture_triggers(p_relid oid) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_fn text := pg_catalog.format('pgaudit_kit.%I()', 'capture_' || p_relid);
  v_rel regclass := p_relid::regclass;
  v_part regclass;
  t text;
BEGIN
  SELECT * INTO STRICT cfg FROM pgaudit_kit.enrolled_table WHERE relid = p_relid;
  PERFORM pgaudit_kit.drop_capture_triggers(p_relid);
  IF cfg.capture_mode = 'statement' THEN
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_capture_insert AFTER INSERT ON %s
      REFERENCING NEW TABLE AS pgaudit_kit_new FOR EACH STATEMENT EXECUTE FUNCTION %s', v_rel, v_fn);
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_capture_update AFTER UPDATE ON %s
      REFERENCING OLD TABLE AS pgaudit_kit_old NEW TABLE AS pgaudit_kit_new FOR EACH STATEMENT EXECUTE FUNCTION %s',
      v_rel, v_fn);
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_capture_delete AFTER DELETE ON %s
      REFERENCING OLD TABLE AS pgaudit_kit_old FOR EACH STATEMENT EXECUTE FUNCTION %s', v_rel, v_fn);
    FOREACH t IN ARRAY ARRAY['pgaudit_kit_capture_insert', 'pgaudit_kit_capture_update', 'pgaudit_kit_capture_delete'] LOOP
      EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', v_rel, t);
    END LOOP;
  ELSE
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_capture_row AFTER INSERT OR UPDATE OR DELETE ON %s
      FOR EACH ROW EXECUTE FUNCTION %s', v_rel, v_fn);
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER pgaudit_kit_capture_row', v_rel);
  END IF;
  FOR v_part IN SELECT p_relid UNION SELECT p.relid FROM pg_catalog.pg_partition_tree(p_relid) p LOOP
    -- TRUNCATE capture reads the rows about to go, as the kit owner.
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO pgaudit_kit_owner',
        (SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = v_part));
    EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pgaudit_kit_owner', v_part);
    IF v_part OPERATOR(pg_catalog.<>) v_rel AND EXISTS (SELECT FROM pgaudit_kit.enrolled_table e WHERE e.relid = v_part) THEN
      -- A table enrolled on its own was attached as a partition: from now on its rows are captured as
      -- the partitioned table's, so its own enrolment ends (recorded).
      DELETE FROM pgaudit_kit.enrolled_table WHERE relid = v_part;
      EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS pgaudit_kit.%I()', 'capture_' || v_part::oid);
      PERFORM pgaudit_kit.record_control_event('absorbed', v_part, NULL, NULL,
          pg_catalog.jsonb_build_object('partition_of', v_rel::text));
    END IF;
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_capture_truncate BEFORE TRUNCATE ON %s
      FOR EACH STATEMENT EXECUTE FUNCTION %s', v_part, v_fn);
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER pgaudit_kit_capture_truncate', v_part);
    IF v_part OPERATOR(pg_catalog.<>) v_rel THEN
      -- the clone of the partitioned table's row trigger: make sure it too fires ALWAYS
      EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER pgaudit_kit_capture_row', v_part);
    END IF;
  END LOOP;
END
$fn$;
ALTER FUNCTION pgaudit_kit.install_capture_triggers(oid) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.install_capture_triggers(oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.install_capture_triggers(oid) IS
    'pgaudit-kit: (re)create the capture triggers of an enrolled table, enabled ALWAYS';
