-- pgaudit-kit: pgaudit_kit.record_control_event(...) -- records a kit control action (enrol,
-- options change, disenrol, auto-enrol) as an event with op 'K', in the acting transaction.
CREATE OR REPLACE FUNCTION pgaudit_kit.record_control_event(p_action text, p_relid oid, p_schema text, p_table text,
                                                 p_details jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  PERFORM pgaudit_kit.record_transaction();
  INSERT INTO pgaudit_kit.event (xid, statement_ts, op, relid, schema_name, table_name, row_data, statement)
  VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.statement_timestamp(), 'K', p_relid, p_schema, p_table,
          pg_catalog.jsonb_build_object('action', p_action) || COALESCE(p_details, '{}'),
          pg_catalog.current_query());
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_control_event(text, oid, text, text, jsonb) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_control_event(text, oid, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_control_event(text, oid, text, text, jsonb) IS
    'pgaudit-kit: record a kit control action (op K)';
