-- pgaudit-kit: DDL guards (event triggers, ENABLE ALWAYS). What the kit itself never does is refused
-- at once; whether capture is still whole is judged at commit (pgaudit_kit.check_invariants), because
-- the kit's own enrol/disable steps pass through incomplete states. A maintenance window
-- (pgaudit_kit.begin_maintenance, superuser only, recorded) lets `pgaudit-kit install` upgrade the kit.

-- pgaudit_kit.kit_namespaces() -> oid[]: the kit's schema and the guard schema, found through the kit's
-- event triggers so that a renamed schema is still recognised.
CREATE OR REPLACE FUNCTION pgaudit_kit.kit_namespaces() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT pg_catalog.array_agg(DISTINCT p.pronamespace)
    FROM pg_catalog.pg_event_trigger et JOIN pg_catalog.pg_proc p ON p.oid = et.evtfoid
   WHERE et.evtname IN ('pgaudit_kit_check_ddl', 'pgaudit_kit_guard_drop')
$fn$;
ALTER FUNCTION pgaudit_kit.kit_namespaces() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.kit_namespaces() IS 'pgaudit-kit: OIDs of the kit''s schema and its guard schema';
