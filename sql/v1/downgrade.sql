-- pgaudit-kit v1 downgrade: removes everything revision 0001 created inside the database except the
-- schema itself and Alembic's version table (Alembic still needs it to record the downgrade). Capture
-- triggers and functions leave every enrolled table. Cluster-wide roles stay: other databases may use
-- them; `pgaudit-kit uninstall` drops them when nothing else does.
DROP EVENT TRIGGER IF EXISTS pgaudit_kit_ddl_command_end;
DROP EVENT TRIGGER IF EXISTS pgaudit_kit_sql_drop;
DO $drop$
DECLARE
  v_relid oid;
BEGIN
  FOR v_relid IN SELECT e.relid FROM pgaudit_kit.enrolled_table e
                  WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = e.relid) LOOP
    PERFORM pgaudit_kit.drop_capture_triggers(v_relid);
  END LOOP;
  FOR v_relid IN SELECT p.oid FROM pg_catalog.pg_proc p
                  WHERE p.pronamespace = 'pgaudit_kit'::regnamespace AND p.proname::text ~ '^capture_[0-9]+$' LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', v_relid::regprocedure);
  END LOOP;
END
$drop$;
DROP VIEW pgaudit_kit.change;
DROP FUNCTION pgaudit_kit.on_ddl_command_end();
DROP FUNCTION pgaudit_kit.on_sql_drop();
DROP FUNCTION pgaudit_kit.record_ddl_event(text, text, text, text, oid);
DROP FUNCTION pgaudit_kit.enable_schema(text, boolean, text[], text[], text, boolean);
DROP FUNCTION pgaudit_kit.disable_schema(text, text);
DROP FUNCTION pgaudit_kit.disable_table(regclass, text);
DROP FUNCTION pgaudit_kit.refresh_enrolment(oid);
DROP FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean);
DROP FUNCTION pgaudit_kit.install_capture_triggers(oid);
DROP FUNCTION pgaudit_kit.drop_capture_triggers(oid);
DROP FUNCTION pgaudit_kit.capture_function_source(oid);
DROP FUNCTION pgaudit_kit.old_values_sql(text[], text[], text[], text, text, text, text);
DROP FUNCTION pgaudit_kit.pk_sql(text[], text[], text);
DROP FUNCTION pgaudit_kit.image_sql(text[], text[], text[], text, text, text);
DROP FUNCTION pgaudit_kit.column_value_sql(text, text[], text[], text, text, text);
DROP FUNCTION pgaudit_kit.column_text_sql(text, text[], text);
DROP FUNCTION pgaudit_kit.table_shape_signature(oid);
DROP FUNCTION pgaudit_kit.existing_columns(oid, text[]);
DROP FUNCTION pgaudit_kit.redact(text, bytea, bytea);
DROP FUNCTION pgaudit_kit.record_control_event(text, oid, text, text, jsonb);
DROP FUNCTION pgaudit_kit.record_transaction();
DROP FUNCTION pgaudit_kit.parse_json_or_null(text);
DROP TABLE pgaudit_kit.redaction_key;
DROP TABLE pgaudit_kit.event;
DROP TABLE pgaudit_kit.transaction;
DROP TABLE pgaudit_kit.auto_enrol_schema;
DROP TABLE pgaudit_kit.enrolled_table;
DROP TABLE pgaudit_kit.install;
