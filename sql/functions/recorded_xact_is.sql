-- pgaudit_kit.recorded_xact_is(xid) -- has the kit written the who/where row of transaction p_xid, the current one?
-- Asked by capture at every audited statement (with the transaction id it holds already: two calls of
-- pg_current_xact_id() there cost 10 k instructions of a tpcb-like transaction's 1,341 k), and by the kit's other
-- recording paths through pgaudit_kit.transaction_recorded(). So it reads no table: the transaction-local setting
-- pgaudit_kit.recorded_xact says so cheaply, and currval() of the kit-owned sequence of the same name,
-- which only the kit can set, confirms it. A role that sets the setting itself to skip its who/where row
-- (and the lockdown check) gets an error from currval() ("not yet defined in this session") or a mismatch,
-- which records the transaction as usual. The setting is transactional (rolled back with a savepoint that
-- wrote the row), currval() is not, so both must agree.
-- SQL and not SECURITY DEFINER, so that the planner inlines it into capture's expression; it runs with its
-- caller's rights (the kit owner, inside the kit's SECURITY DEFINER functions), and nobody else may call it.
CREATE OR REPLACE FUNCTION pgaudit_kit.recorded_xact_is(p_xid pg_catalog.xid8) RETURNS boolean
LANGUAGE sql VOLATILE AS $fn$
  -- COALESCE: an unset setting is NULL, and NULL AND x evaluates x (currval, which would raise)
  SELECT COALESCE(pg_catalog.current_setting('pgaudit_kit.recorded_xact', true), '')
           OPERATOR(pg_catalog.=) p_xid::pg_catalog.text
     AND pg_catalog.currval('pgaudit_kit.recorded_xact'::pg_catalog.regclass)
           OPERATOR(pg_catalog.=) p_xid::pg_catalog.text::pg_catalog.int8
$fn$;
ALTER FUNCTION pgaudit_kit.recorded_xact_is(pg_catalog.xid8) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.recorded_xact_is(pg_catalog.xid8) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.recorded_xact_is(pg_catalog.xid8) IS
    'pgaudit-kit: whether the who/where row of the current transaction (its id passed) is written (no table read)';
