-- pgaudit-kit: pgaudit_kit.record_ddl_event(...) -- one op 'S' event for a DDL command.
CREATE OR REPLACE FUNCTION pgaudit_kit.record_ddl_event(p_command_tag text, p_object_type text, p_schema text,
                                             p_object_identity text, p_relid oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  PERFORM pgaudit_kit.record_transaction();
  INSERT INTO pgaudit_kit.event (xid, statement_ts, op, relid, schema_name, table_name, row_data, statement)
  VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.statement_timestamp(), 'S', p_relid, p_schema,
          (SELECT c.relname::text FROM pg_catalog.pg_class c WHERE c.oid = p_relid),
          pg_catalog.jsonb_build_object('command_tag', p_command_tag, 'object_type', p_object_type,
                                        'object_identity', p_object_identity),
          pg_catalog.current_query());
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_ddl_event(text, text, text, text, oid) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_ddl_event(text, text, text, text, oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_ddl_event(text, text, text, text, oid) IS 'pgaudit-kit: record one DDL command (op S)';
