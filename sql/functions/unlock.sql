-- pgaudit-kit: pgaudit_kit.unlock -- lift a lockdown (admin; recorded)
CREATE OR REPLACE FUNCTION pgaudit_kit.unlock(p_reason text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $fn$
  SELECT pgaudit_kit.set_lockdown(false, p_reason)
$fn$;
ALTER FUNCTION pgaudit_kit.unlock(text) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.unlock(text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.unlock(text) IS 'pgaudit-kit: lift a lockdown (admin; recorded)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.unlock(text) TO pgaudit_kit_admin;
