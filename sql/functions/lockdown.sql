-- pgaudit-kit: pgaudit_kit.lockdown -- refuse audited writes until unlocked (admin; recorded)
CREATE OR REPLACE FUNCTION pgaudit_kit.lockdown(p_reason text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $fn$
  SELECT pgaudit_kit.set_lockdown(true, p_reason)
$fn$;
ALTER FUNCTION pgaudit_kit.lockdown(text) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.lockdown(text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.lockdown(text) IS 'pgaudit-kit: refuse audited writes until unlocked (admin; recorded)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.lockdown(text) TO pgaudit_kit_admin;
