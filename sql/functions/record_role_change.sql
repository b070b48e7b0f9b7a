-- pgaudit-kit: pgaudit_kit.record_role_change(action, kit_role, role) -- records `pgaudit-kit grant` /
-- `revoke` of a kit role as a control event. PostgreSQL's event triggers do not see GRANT of a role (a
-- cluster-wide object), so the command records it in the same transaction as the GRANT. Anyone may call
-- this, but it records only a fact: it refuses unless membership now matches the action.
CREATE OR REPLACE FUNCTION pgaudit_kit.record_role_change(p_action text, p_kit_role text, p_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_member boolean;
BEGIN
  IF p_action NOT IN ('grant', 'revoke') OR p_kit_role NOT IN ('pgaudit_kit_admin', 'pgaudit_kit_reader') THEN
    RAISE EXCEPTION 'pgaudit-kit: cannot record % of %', p_action, p_kit_role USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                  WHERE m.roleid = p_kit_role::regrole AND m.member = p_role::regrole) INTO v_member;
  IF v_member IS DISTINCT FROM (p_action = 'grant') THEN
    RAISE EXCEPTION 'pgaudit-kit: % is % a member of %', p_role, CASE WHEN v_member THEN 'still' ELSE 'not' END,
      p_kit_role USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM pgaudit_kit.record_control_event(p_action, NULL, NULL, NULL,
      pg_catalog.jsonb_build_object('kit_role', p_kit_role, 'role', p_role));
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_role_change(text, text, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.record_role_change(text, text, text) IS
    'pgaudit-kit: record a grant or revoke of a kit role (checked against the catalog)';
