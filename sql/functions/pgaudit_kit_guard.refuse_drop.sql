-- pgaudit_kit_guard.refuse_drop() -- sql_drop. Lives outside the kit's schema so that it still fires
-- when that schema is dropped. Refuses dropping anything of the kit's (except generated capture
-- functions, which the commit check covers) and dropping an enrolled table that was not disabled first.
CREATE OR REPLACE FUNCTION pgaudit_kit_guard.refuse_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_kit_gone text;
  v_table text;
  v_maintenance boolean;
  v_work text;
BEGIN
  SELECT o.object_identity INTO v_kit_gone
    FROM pg_catalog.pg_event_trigger_dropped_objects() o
   WHERE (o.schema_name IN ('pgaudit_kit', 'pgaudit_kit_guard')
          OR (o.object_type = 'schema' AND o.object_identity IN ('pgaudit_kit', 'pgaudit_kit_guard'))
          -- a trigger of a kit table (PostgreSQL 14 reports no schema for triggers)
          OR (o.object_type = 'trigger' AND o.address_names[1] IN ('pgaudit_kit', 'pgaudit_kit_guard')))
     AND NOT (o.object_type = 'function' AND o.object_identity ~ '^pgaudit_kit\.capture_[0-9]+\(\)$')
   ORDER BY o.original DESC
   LIMIT 1;
  IF v_kit_gone IS NULL THEN
    SELECT pg_catalog.format('%I.%I', e.schema_name, e.table_name) INTO v_table
      FROM pg_catalog.pg_event_trigger_dropped_objects() o JOIN pgaudit_kit.enrolled_table e ON e.relid = o.objid
     WHERE o.classid = 'pg_catalog.pg_class'::regclass AND o.objsubid = 0
     LIMIT 1;
  END IF;
  IF v_kit_gone IS NULL AND v_table IS NULL THEN
    -- a partition (or any table) still carrying capture triggers: its rows would go unrecorded
    SELECT o.object_identity INTO v_table
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'table'
       AND EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() t
                    WHERE t.object_type = 'trigger' AND t.address_names[1:2] = o.address_names
                      AND t.address_names[3] LIKE 'pgaudit\_kit\_capture\_%')
     LIMIT 1;
  END IF;
  IF v_kit_gone IS NULL AND v_table IS NULL THEN
    RETURN;
  END IF;
  -- A maintenance window (an upgrade) may drop the kit's objects. The check is dynamic: this function
  -- must still run when the kit's schema is among the objects being dropped.
  BEGIN
    EXECUTE 'SELECT pgaudit_kit.in_maintenance()' INTO v_maintenance;
  EXCEPTION WHEN undefined_function OR undefined_table OR invalid_schema_name THEN
    v_maintenance := false;
  END;
  IF v_maintenance THEN
    RETURN;
  END IF;
  -- pgaudit_kit.retire dropping a partition of pgaudit_kit.event that holds nothing but the history it retires (it
  -- checked, under a lock that keeps writers out): that partition and what belongs to it, nothing more (no
  -- CASCADE), only in the transaction that recorded the retirement
  v_work := NULLIF(pg_catalog.current_setting('pgaudit_kit.partition_work', true), '');
  IF v_kit_gone IS NOT NULL AND v_work IS NOT NULL
     AND (SELECT pg_catalog.array_agg(o.object_identity) FROM pg_catalog.pg_event_trigger_dropped_objects() o
           WHERE o.original OR o.normal) = ARRAY['pgaudit_kit.' || pg_catalog.quote_ident(v_work)]
     AND EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() o
                  WHERE o.original AND o.object_type = 'table') THEN
    BEGIN
      EXECUTE 'SELECT EXISTS (SELECT FROM pgaudit_kit.retirement r WHERE r.xid = pg_catalog.pg_current_xact_id())'
         INTO v_maintenance;
    EXCEPTION WHEN undefined_function OR undefined_table OR invalid_schema_name THEN
      v_maintenance := false;
    END;
    IF v_maintenance THEN
      RETURN;
    END IF;
  END IF;
  IF v_kit_gone IS NOT NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: %s would drop %s: refused, audit history and its guards cannot '
                                  'be dropped', TG_TAG, v_kit_gone),
      HINT = 'To remove the kit (refused while history exists): pgaudit-kit uninstall.';
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'insufficient_privilege',
    MESSAGE = pg_catalog.format('pgaudit-kit: %s would drop the audited table %s: refused', TG_TAG, v_table),
    HINT = pg_catalog.format('Stop auditing it first (recorded with who and why): pgaudit-kit disable %s --reason TEXT '
                             '(a partition: detach it first with ALTER TABLE ... DETACH PARTITION, which is recorded)',
                             v_table);
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit_guard.refuse_drop() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit_guard.refuse_drop() IS
    'pgaudit-kit: refuse dropping the kit''s objects or an audited table';
