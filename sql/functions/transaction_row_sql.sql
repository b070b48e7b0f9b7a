-- pgaudit_kit.transaction_row_sql() -- the one statement that writes the current transaction's who/where row.
-- Its single definition: capture embeds it in the INSERT of a transaction's first captured event (as a
-- data-modifying WITH), so that one statement, planned once per session, writes both; the kit's own recording
-- paths run it through pgaudit_kit.write_transaction_row(). acting_role reads the "role" setting (SET ROLE),
-- because inside a SECURITY DEFINER function current_user is the kit owner, not the writer.
-- ON CONFLICT: the row may exist although the marks say otherwise (a role that reset the setting itself); the
-- arbiter check reads with a dirty snapshot, which takes no SERIALIZABLE predicate lock, where a probe would.
CREATE OR REPLACE FUNCTION pgaudit_kit.transaction_row_sql() RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT $sql$INSERT INTO pgaudit_kit.transaction (xid, xact_start, session_role, acting_role, actor, context,
                                       context_raw, application_name, client_addr, client_port, backend_pid)
    SELECT pg_catalog.pg_current_xact_id(), pg_catalog.transaction_timestamp(), session_user,
           CASE WHEN s.role OPERATOR(pg_catalog.=) 'none' THEN session_user ELSE s.role END,
           NULLIF(pg_catalog.current_setting('pgaudit_kit.actor', true), ''),
           c.context, CASE WHEN c.context IS NULL THEN s.context_text END,
           NULLIF(pg_catalog.current_setting('application_name'), ''),
           pg_catalog.inet_client_addr(), pg_catalog.inet_client_port(), pg_catalog.pg_backend_pid()
      FROM (SELECT NULLIF(pg_catalog.current_setting('pgaudit_kit.context', true), '') AS context_text,
                   pg_catalog.current_setting('role') AS role) s,
           LATERAL (SELECT CASE WHEN s.context_text IS NOT NULL
                                THEN pgaudit_kit.parse_json_or_null(s.context_text) END AS context) c
    ON CONFLICT (xid) DO NOTHING$sql$
$fn$;
ALTER FUNCTION pgaudit_kit.transaction_row_sql() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.transaction_row_sql() IS
    'pgaudit-kit: the statement that writes the current transaction''s who/where row (embedded by capture)';
