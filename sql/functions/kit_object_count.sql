-- pgaudit_kit.kit_object_count() -> bigint: functions (other than generated capture functions) and
-- relations in the kit's schemas. Compared before and after each DDL command: ALTER ... SET SCHEMA
-- moves an object out of the kit's schema, after which nothing about it names the kit any more.
CREATE OR REPLACE FUNCTION pgaudit_kit.kit_object_count() RETURNS bigint
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = ANY (pgaudit_kit.kit_namespaces()) AND p.proname::text !~ '^capture_[0-9]+$')
       + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = ANY (pgaudit_kit.kit_namespaces()))
$fn$;
ALTER FUNCTION pgaudit_kit.kit_object_count() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.kit_object_count() IS 'pgaudit-kit: how many objects the kit''s schemas hold';
