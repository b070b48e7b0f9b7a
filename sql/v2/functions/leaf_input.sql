-- pgaudit-kit v2: pgaudit_kit.leaf_field(bytea) and pgaudit_kit.event_leaf_input(event, transaction)
-- The canonical byte encoding of an event and its transaction record, version 1 (docs/ENCODING.md):
-- the magic "PGAKEV01", then 22 fields, each a 4-byte big-endian length and that many bytes, or
-- ff ff ff ff for NULL. Text is UTF-8; numbers and xids are decimal; timestamps are microseconds since
-- 1970-01-01 UTC; jsonb values are PostgreSQL's jsonb text output; inet is inet's text output.
-- Nothing here depends on session settings (TimeZone, DateStyle, IntervalStyle, extra_float_digits,
-- bytea_output, client_encoding).
-- These SQL functions deliberately have no SET clause, so PostgreSQL inlines them into the sealing
-- query (4x faster than a call per event); every name and operator is schema-qualified instead.
CREATE FUNCTION pgaudit_kit.leaf_field(p_value bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT COALESCE(pg_catalog.int4send(pg_catalog.length(p_value)) OPERATOR(pg_catalog.||) p_value,
                  '\xffffffff'::bytea)
$fn$;
ALTER FUNCTION pgaudit_kit.leaf_field(bytea) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.leaf_field(bytea) IS 'pgaudit-kit: one length-prefixed field of the canonical encoding';

CREATE FUNCTION pgaudit_kit.event_leaf_input(e pgaudit_kit.event, t pgaudit_kit.transaction) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
  SELECT '\x5047414b45563031'::bytea
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.id::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.xid::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(
           (EXTRACT(epoch FROM e.statement_ts) * 1000000)::bigint::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.op::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.relid::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.schema_name, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.table_name, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.partition_name, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.pk::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.row_data::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.old_values::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(e.statement, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(
           (EXTRACT(epoch FROM t.xact_start) * 1000000)::bigint::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.session_role, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.acting_role, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.actor, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.context::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.context_raw, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.application_name, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(pg_catalog.textin(pg_catalog.inet_out(t.client_addr)), 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.client_port::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(t.backend_pid::text, 'UTF8'))
$fn$;
ALTER FUNCTION pgaudit_kit.event_leaf_input(pgaudit_kit.event, pgaudit_kit.transaction) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.event_leaf_input(pgaudit_kit.event, pgaudit_kit.transaction) IS
    'pgaudit-kit: canonical encoding v1 of an event and its transaction record (the Merkle leaf input)';
