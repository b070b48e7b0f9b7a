-- pgaudit-kit: pgaudit_kit.on_ddl_command_end() -- ddl_command_end event trigger function.
-- Keeps capture in step with the schema, inside the DDL's own transaction:
--   * a table created in an auto-enrol schema is enrolled;
--   * a new inheritance child of an enrolled table is enrolled with its parent's options;
--   * an enrolled table whose shape changed (columns, name, partitions, children) gets its capture
--     regenerated, so an added column is recorded from the very next write;
-- then records every DDL command in scope (enrolled or auto-enrol schemas, the kit's schema, triggers,
-- rules and policies of tables there, and GRANT/REVOKE and casts, which PostgreSQL reports without a
-- schema) as an op 'S' event with its statement text.
-- Any failure here fails the DDL.
CREATE OR REPLACE FUNCTION pgaudit_kit.on_ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cmd record;
  v_rel record;
  v_parent pgaudit_kit.enrolled_table%ROWTYPE;
  v_auto pgaudit_kit.auto_enrol_schema%ROWTYPE;
  v_scope_schemas text[];
BEGIN
  IF NOT EXISTS (SELECT FROM pgaudit_kit.enrolled_table) AND NOT EXISTS (SELECT FROM pgaudit_kit.auto_enrol_schema) THEN
    RETURN;  -- nothing audited yet: nothing to keep in step and nothing in scope
  END IF;
  FOR cmd IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
    -- objid is the table for 'table column' commands too (RENAME COLUMN reports the column)
    CONTINUE WHEN cmd.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_class'::regclass
               OR cmd.object_type NOT IN ('table', 'table column');
    SELECT c.oid, c.relkind, c.relispartition, c.relpersistence, n.nspname::text AS nspname INTO v_rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = cmd.objid;
    CONTINUE WHEN NOT FOUND OR v_rel.relkind NOT IN ('r', 'p') OR v_rel.relpersistence = 't';
    IF v_rel.relispartition THEN
      PERFORM pgaudit_kit.refresh_enrolment(pg_catalog.pg_partition_root(cmd.objid));
      CONTINUE;
    END IF;
    IF NOT EXISTS (SELECT FROM pgaudit_kit.enrolled_table e WHERE e.relid = cmd.objid) THEN
      SELECT e.* INTO v_parent FROM pg_catalog.pg_inherits i JOIN pgaudit_kit.enrolled_table e ON e.relid = i.inhparent
       WHERE i.inhrelid = cmd.objid ORDER BY i.inhseqno LIMIT 1;
      IF FOUND THEN
        PERFORM pgaudit_kit.enable_table(cmd.objid::regclass, v_parent.excluded_columns, v_parent.redacted_columns,
                                         v_parent.truncate_policy, v_parent.capture_statement);
        PERFORM pgaudit_kit.refresh_enrolment(v_parent.relid);
      ELSIF cmd.command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO') THEN
        SELECT * INTO v_auto FROM pgaudit_kit.auto_enrol_schema WHERE schema_name = v_rel.nspname;
        IF FOUND THEN
          PERFORM pgaudit_kit.enable_table(cmd.objid::regclass,
              pgaudit_kit.existing_columns(cmd.objid, v_auto.excluded_columns),
              pgaudit_kit.existing_columns(cmd.objid, v_auto.redacted_columns),
              v_auto.truncate_policy, v_auto.capture_statement);
        END IF;
      END IF;
    ELSE
      PERFORM pgaudit_kit.refresh_enrolment(cmd.objid);
    END IF;
  END LOOP;

  v_scope_schemas := ARRAY(SELECT schema_name FROM pgaudit_kit.enrolled_table
                           UNION SELECT schema_name FROM pgaudit_kit.auto_enrol_schema) || ARRAY['pgaudit_kit'];
  -- Triggers, rules and policies belong to no schema (PostgreSQL reports none): they are in scope, and
  -- recorded against their table, when their table is.
  FOR cmd IN SELECT d.command_tag, d.object_type, d.object_identity,
                    COALESCE(d.schema_name, (SELECT n.nspname::text FROM pg_catalog.pg_class c
                                               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                              WHERE c.oid = r.relid)) AS schema_name,
                    r.relid
               FROM pg_catalog.pg_event_trigger_ddl_commands() d
               CROSS JOIN LATERAL (SELECT CASE d.classid
                   WHEN 'pg_catalog.pg_class'::regclass THEN d.objid
                   WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = d.objid)
                   WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT w.ev_class FROM pg_catalog.pg_rewrite w WHERE w.oid = d.objid)
                   WHEN 'pg_catalog.pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = d.objid)
                 END AS relid) r LOOP
    CONTINUE WHEN NOT (cmd.schema_name = ANY (v_scope_schemas) OR cmd.command_tag IN ('GRANT', 'REVOKE')
                       OR cmd.object_type = 'cast');  -- a cast can change what capture renders
    CONTINUE WHEN pgaudit_kit.partition_work_allows(cmd.relid, cmd.command_tag);  -- one control event instead
    PERFORM pgaudit_kit.record_ddl_event(cmd.command_tag, cmd.object_type, cmd.schema_name, cmd.object_identity,
                                         cmd.relid);
  END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.on_ddl_command_end() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.on_ddl_command_end() IS
    'pgaudit-kit: keep capture in step with DDL and record DDL in audited schemas';
