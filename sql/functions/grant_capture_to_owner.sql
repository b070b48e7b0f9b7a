-- pgaudit_kit.grant_capture_to_owner(function) -- EXECUTE on a capture function for the owner of its
-- table, when missing (see guard_ddl).
CREATE OR REPLACE FUNCTION pgaudit_kit.grant_capture_to_owner(p_function oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_owner oid;
BEGIN
  SELECT c.relowner INTO v_owner FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.substr(p.proname::text, 9)::oid
   WHERE p.oid = p_function AND p.proowner = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'pgaudit_kit_owner');
  IF FOUND AND NOT pg_catalog.has_function_privilege(v_owner, p_function, 'EXECUTE') THEN
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', p_function::regprocedure,
                              (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = v_owner));
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.grant_capture_to_owner(oid) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.grant_capture_to_owner(oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.grant_capture_to_owner(oid) IS
    'pgaudit-kit: let the owner of an audited table create its partitions (EXECUTE on its capture function)';
