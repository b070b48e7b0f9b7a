-- pgaudit-kit v3: maintenance windows. pgaudit_kit.begin_maintenance(reason) lets the current
-- transaction change the kit's own objects (what `pgaudit-kit install` does to upgrade). Only a
-- superuser may call it (EXECUTE is granted to nobody) and it records a control event: the one way
-- past the DDL guards that is not an attack is itself in the sealed log. (The install transaction
-- itself records nothing: it creates the log, and verify recognises its window by the install row.)
CREATE FUNCTION pgaudit_kit.in_maintenance() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
  SELECT EXISTS (SELECT FROM pgaudit_kit.maintenance m
                  WHERE m.xid OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id_if_assigned())
$fn$;
ALTER FUNCTION pgaudit_kit.in_maintenance() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.in_maintenance() IS 'pgaudit-kit: is this transaction a maintenance window?';

-- pgaudit_kit.installed_by_this_transaction(): true while the kit's own install transaction runs (the
-- one that wrote pgaudit_kit.install), when later revisions of a fresh install pass the guards that
-- earlier revisions of the same install created.
CREATE FUNCTION pgaudit_kit.installed_by_this_transaction() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
  SELECT EXISTS (SELECT FROM pgaudit_kit.install i
                  WHERE i.xmin::text = (pg_catalog.pg_current_xact_id()::text::bigint % 4294967296)::text)
$fn$;
ALTER FUNCTION pgaudit_kit.installed_by_this_transaction() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.installed_by_this_transaction() IS
    'pgaudit-kit: is the current transaction the one installing the kit?';

CREATE FUNCTION pgaudit_kit.begin_maintenance(p_reason text) RETURNS void
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
