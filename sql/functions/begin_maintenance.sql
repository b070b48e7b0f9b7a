-- pgaudit-kit: pgaudit_kit.begin_maintenance -- let this transaction change the kit's objects (superuser only; recorded)
CREATE OR REPLACE FUNCTION pgaudit_kit.begin_maintenance(p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' THEN
    RAISE EXCEPTION 'pgaudit-kit: a maintenance window needs a reason' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgaudit_kit.maintenance (xid, reason) VALUES (pg_catalog.pg_current_xact_id(), p_reason)
  ON CONFLICT (xid) DO NOTHING;
  IF NOT FOUND OR pgaudit_kit.installed_by_this_transaction() THEN
    RETURN;  -- already open; or a fresh install, where there is no history yet to record it in
  END IF;
  PERFORM pgaudit_kit.write_transaction_row();
  INSERT INTO pgaudit_kit.event (xid, statement_ts, op, row_data, statement)
  VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.statement_timestamp(), 'K',
          pg_catalog.jsonb_build_object('action', 'maintenance', 'reason', p_reason), pg_catalog.current_query());
END
$fn$;
ALTER FUNCTION pgaudit_kit.begin_maintenance(text) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.begin_maintenance(text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.begin_maintenance(text) IS
    'pgaudit-kit: let this transaction change the kit''s objects (superuser only; recorded)';
