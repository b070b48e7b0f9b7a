-- pgaudit_kit.mark_transaction_recorded() -- marks the current transaction's who/where row as written, for
-- pgaudit_kit.recorded_xact_is(): currval() of the kit-owned sequence pgaudit_kit.recorded_xact (which only the
-- kit can set) and the transaction-local setting of the same name both name the transaction. Nested calls fix
-- the order: setval first, the setting from its result (the xid as a number, the setting's text).
-- SQL and not SECURITY DEFINER, so that the planner inlines it into its caller's expression (capture assigns
-- it: a plain expression, not a query); it runs with its caller's rights, the kit owner's.
CREATE OR REPLACE FUNCTION pgaudit_kit.mark_transaction_recorded() RETURNS boolean
LANGUAGE sql VOLATILE AS $fn$
  SELECT pg_catalog.set_config('pgaudit_kit.recorded_xact',
                               pg_catalog.setval('pgaudit_kit.recorded_xact'::pg_catalog.regclass,
                                                 pg_catalog.pg_current_xact_id()::pg_catalog.text::pg_catalog.int8)
                                 ::pg_catalog.text,
                               true) IS NOT NULL
$fn$;
ALTER FUNCTION pgaudit_kit.mark_transaction_recorded() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.mark_transaction_recorded() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.mark_transaction_recorded() IS
    'pgaudit-kit: mark the current transaction''s who/where row as written (setval and setting)';
