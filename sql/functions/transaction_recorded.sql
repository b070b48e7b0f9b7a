-- pgaudit_kit.transaction_recorded() -- has the kit written the who/where row of the current transaction?
-- pgaudit_kit.recorded_xact_is() for callers that do not hold the transaction id (the kit's own recording paths);
-- both are SQL and inlined one into the other and into their caller's expression.
CREATE OR REPLACE FUNCTION pgaudit_kit.transaction_recorded() RETURNS boolean
LANGUAGE sql VOLATILE AS $fn$
  SELECT pgaudit_kit.recorded_xact_is(pg_catalog.pg_current_xact_id())
$fn$;
ALTER FUNCTION pgaudit_kit.transaction_recorded() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.transaction_recorded() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.transaction_recorded() IS
    'pgaudit-kit: whether the current transaction''s who/where row is written (no table read)';
