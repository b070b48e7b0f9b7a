-- pgaudit-kit: pgaudit_kit.event_leaf_input -- canonical encoding v1 of an event and its transaction record (the Merkle leaf input)
CREATE OR REPLACE FUNCTION pgaudit_kit.event_leaf_input(e pgaudit_kit.event, t pgaudit_kit.transaction) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT '\x5047414b45563031'::bytea OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.array_send(ARRAY[
      pg_catalog.convert_to(e.id::text, 'UTF8'),
      pg_catalog.convert_to(e.xid::text, 'UTF8'),
      pg_catalog.convert_to((EXTRACT(epoch FROM e.statement_ts) * 1000000)::bigint::text, 'UTF8'),
      pg_catalog.convert_to(e.op::text, 'UTF8'),
      pg_catalog.convert_to(e.relid::text, 'UTF8'),
      pg_catalog.convert_to(e.schema_name, 'UTF8'),
      pg_catalog.convert_to(e.table_name, 'UTF8'),
      pg_catalog.convert_to(e.partition_name, 'UTF8'),
      pg_catalog.convert_to(e.pk::text, 'UTF8'),
      pg_catalog.convert_to(e.row_data::text, 'UTF8'),
      pg_catalog.convert_to(e.old_values::text, 'UTF8'),
      pg_catalog.convert_to(e.statement, 'UTF8'),
      pg_catalog.convert_to((EXTRACT(epoch FROM t.xact_start) * 1000000)::bigint::text, 'UTF8'),
      pg_catalog.convert_to(t.session_role, 'UTF8'),
      pg_catalog.convert_to(t.acting_role, 'UTF8'),
      pg_catalog.convert_to(t.actor, 'UTF8'),
      pg_catalog.convert_to(t.context::text, 'UTF8'),
      pg_catalog.convert_to(t.context_raw, 'UTF8'),
      pg_catalog.convert_to(t.application_name, 'UTF8'),
      pg_catalog.convert_to(pg_catalog.textin(pg_catalog.inet_out(t.client_addr)), 'UTF8'),
      pg_catalog.convert_to(t.client_port::text, 'UTF8'),
      pg_catalog.convert_to(t.backend_pid::text, 'UTF8')
    ]::bytea[]), 21)
$fn$;
ALTER FUNCTION pgaudit_kit.event_leaf_input(pgaudit_kit.event, pgaudit_kit.transaction) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.event_leaf_input(pgaudit_kit.event, pgaudit_kit.transaction) IS
    'pgaudit-kit: canonical encoding v1 of an event and its transaction record (the Merkle leaf input)';
