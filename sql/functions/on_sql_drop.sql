-- pgaudit-kit: pgaudit_kit.on_sql_drop() -- sql_drop event trigger function: records dropped
-- objects in scope (triggers, rules and policies of tables in scope too); a dropped enrolled table leaves
-- enrolment (its capture function goes with it).
CREATE OR REPLACE FUNCTION pgaudit_kit.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  obj record;
  v_scope_schemas text[] := ARRAY(SELECT schema_name FROM pgaudit_kit.enrolled_table
                                  UNION SELECT schema_name FROM pgaudit_kit.auto_enrol_schema) || ARRAY['pgaudit_kit'];
  v_has_scope boolean := EXISTS (SELECT FROM pgaudit_kit.enrolled_table) OR EXISTS (SELECT FROM pgaudit_kit.auto_enrol_schema);
BEGIN
  IF NOT v_has_scope THEN
    RETURN;
  END IF;
  FOR obj IN SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects() LOOP
    IF obj.classid = 'pg_catalog.pg_class'::regclass AND obj.objsubid = 0
       AND EXISTS (SELECT FROM pgaudit_kit.enrolled_table e WHERE e.relid = obj.objid) THEN
      DELETE FROM pgaudit_kit.enrolled_table WHERE relid = obj.objid;
      EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS pgaudit_kit.%I()', 'capture_' || obj.objid);
      PERFORM pgaudit_kit.record_ddl_event(TG_TAG, obj.object_type, obj.schema_name, obj.object_identity, obj.objid);
    ELSIF obj.original AND obj.object_type IN ('trigger', 'rule', 'policy') THEN
      -- in scope, and recorded against their table, when their table is (PostgreSQL reports no schema for
      -- triggers and rules; their address names schema, table, name)
      IF obj.address_names[1] = ANY (v_scope_schemas) THEN
        PERFORM pgaudit_kit.record_ddl_event(TG_TAG, obj.object_type, obj.address_names[1], obj.object_identity,
            pg_catalog.to_regclass(pg_catalog.format('%I.%I', obj.address_names[1], obj.address_names[2])));
      END IF;
    ELSIF obj.original AND obj.object_type = 'cast' THEN
      PERFORM pgaudit_kit.record_ddl_event(TG_TAG, obj.object_type, NULL, obj.object_identity, NULL);
    ELSIF obj.original AND obj.schema_name = ANY (v_scope_schemas) THEN
      PERFORM pgaudit_kit.record_ddl_event(TG_TAG, obj.object_type, obj.schema_name, obj.object_identity,
          CASE WHEN obj.classid = 'pg_catalog.pg_class'::regclass THEN obj.objid END);
    END IF;
  END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.on_sql_drop() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.on_sql_drop() IS 'pgaudit-kit: record drops in audited schemas';
