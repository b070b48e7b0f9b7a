-- pgaudit_kit.write_transaction_row() -- writes the who/where row of the current transaction once and marks
-- it written (pgaudit_kit.transaction_recorded()). acting_role reads the "role" setting (SET ROLE) because inside a
-- SECURITY DEFINER function current_user is the kit owner, not the writer. Called directly only by
-- paths that must work during a lockdown: lockdown, unlock, review events and maintenance.
-- On the write path, calls are assignments, not PERFORM (here setval and set_config; its callers assign
-- `write_transaction_row() IS NOT NULL`, true for a void result): PERFORM runs its call as a query (an
-- executor started and stopped), an assignment as a plain expression.
CREATE OR REPLACE FUNCTION pgaudit_kit.write_transaction_row() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_context_text text := NULLIF(pg_catalog.current_setting('pgaudit_kit.context', true), '');
  v_context jsonb;
  v_role text := pg_catalog.current_setting('role');
  v_xid bigint;
  v_setting text;
BEGIN
  IF pgaudit_kit.transaction_recorded() THEN
    RETURN;
  END IF;
  IF v_context_text IS NOT NULL THEN
    v_context := pgaudit_kit.parse_json_or_null(v_context_text);
  END IF;
  INSERT INTO pgaudit_kit.transaction (xid, xact_start, session_role, acting_role, actor, context, context_raw,
                                       application_name, client_addr, client_port, backend_pid)
  VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.transaction_timestamp(), session_user,
          CASE WHEN v_role = 'none' THEN session_user ELSE v_role END,
          NULLIF(pg_catalog.current_setting('pgaudit_kit.actor', true), ''),
          v_context, CASE WHEN v_context IS NULL THEN v_context_text END,
          NULLIF(pg_catalog.current_setting('application_name'), ''),
          pg_catalog.inet_client_addr(), pg_catalog.inet_client_port(), pg_catalog.pg_backend_pid())
  -- The row may exist although the marks say otherwise (a role that reset the setting itself): the arbiter
  -- check reads with a dirty snapshot, which takes no SERIALIZABLE predicate lock, where a probe would.
  ON CONFLICT (xid) DO NOTHING;
  v_xid := pg_catalog.setval('pgaudit_kit.recorded_xact'::regclass, pg_catalog.pg_current_xact_id()::text::bigint);
  v_setting := pg_catalog.set_config('pgaudit_kit.recorded_xact', pg_catalog.pg_current_xact_id()::text, true);
END
$fn$;
ALTER FUNCTION pgaudit_kit.write_transaction_row() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.write_transaction_row() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.write_transaction_row() IS
    'pgaudit-kit: write the who/where row of the current transaction (once), without the lockdown check';
