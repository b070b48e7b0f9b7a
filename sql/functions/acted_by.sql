-- pgaudit-kit: pgaudit_kit.acted_by() -- who is acting, for the kit's records of admin actions (lockdown_event,
-- retention, retirement): the session's login role, and the role it SET ROLE to when that differs
-- ("alice as dba_team"). Never the kit's owner, whose rights the calling SECURITY DEFINER function runs with.
CREATE OR REPLACE FUNCTION pgaudit_kit.acted_by() RETURNS text
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT CASE WHEN r.role = 'none' OR r.role = session_user THEN session_user::text
              ELSE session_user || ' as ' || r.role END
    FROM (SELECT pg_catalog.current_setting('role') AS role) r
$fn$;
ALTER FUNCTION pgaudit_kit.acted_by() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.acted_by() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.acted_by() IS 'pgaudit-kit: the acting role for records of admin actions';
