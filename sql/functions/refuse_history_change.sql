-- pgaudit-kit: guard trigger functions of the kit's tables (statement-level, BEFORE, ENABLE ALWAYS).

-- pgaudit_kit.refuse_history_change() -- recorded history is append-only: UPDATE, DELETE and TRUNCATE
-- are refused for every role, the kit's owner included. Only a superuser who first disables this
-- trigger can rewrite history, and verify reports what the rewrite did.
CREATE OR REPLACE FUNCTION pgaudit_kit.refuse_history_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = 'insufficient_privilege',
    MESSAGE = pg_catalog.format('pgaudit-kit: %s on %I.%I is refused: recorded history is append-only',
                                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
    HINT = 'Nothing may change or remove audit history, not even its owner; verify reports any rewrite.';
END
$fn$;
ALTER FUNCTION pgaudit_kit.refuse_history_change() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.refuse_history_change() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refuse_history_change() IS 'pgaudit-kit: guard trigger: history tables are append-only';
