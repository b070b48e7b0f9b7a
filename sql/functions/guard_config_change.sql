-- pgaudit_kit.guard_config_change() -- enrolment settings change only inside the kit's own functions
-- (enable, disable, auto-enrol, re-bind), each of which records what it did. A direct INSERT, UPDATE or
-- DELETE, even by the owner, is refused; TRUNCATE always is. The caller is recognised by the PL/pgSQL call stack
-- (the kit's functions run with search_path = '', so their frames are schema-qualified); only a role
-- that may write the table at all (a superuser, or a member of the kit's owner, itself a coverage
-- problem) could stage a look-alike stack (a statement's text is part of the stack), and verify compares
-- enrolment with the recorded enable/disable events.
CREATE OR REPLACE FUNCTION pgaudit_kit.guard_config_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
  v_stack text;
BEGIN
  GET DIAGNOSTICS v_stack = PG_CONTEXT;
  IF TG_OP <> 'TRUNCATE'
     AND v_stack ~ E'\nPL/pgSQL function pgaudit_kit\\.(enable_table|disable_table|install_capture_triggers|enable_schema|disable_schema|on_sql_drop|rebind_enrolments)\\(' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'insufficient_privilege',
    MESSAGE = pg_catalog.format('pgaudit-kit: %s on %I.%I is refused: enrolment changes only through the kit',
                                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
    HINT = 'Use pgaudit-kit enable / disable TABLE --reason TEXT (or pgaudit_kit.enable_table / disable_table).';
END
$fn$;
ALTER FUNCTION pgaudit_kit.guard_config_change() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.guard_config_change() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.guard_config_change() IS
    'pgaudit-kit: guard trigger: enrolment settings change only through the kit''s functions';
