-- pgaudit-kit: pgaudit_kit.leaf_field(bytea) and pgaudit_kit.event_leaf_input(event, transaction)
-- The canonical byte encoding of an event and its transaction record, version 1 (docs/ENCODING.md):
-- the magic "PGAKEV01", then 22 fields, each a 4-byte big-endian length and that many bytes, or
-- ff ff ff ff for NULL. Text is UTF-8; numbers and xids are decimal; timestamps are microseconds since
-- 1970-01-01 UTC; jsonb values are PostgreSQL's jsonb text output; inet is inet's text output.
-- Nothing here depends on session settings (TimeZone, DateStyle, IntervalStyle, extra_float_digits,
-- bytea_output, client_encoding).
-- These SQL functions deliberately have no SET clause, so PostgreSQL inlines them into the sealing
-- query (4x faster than a call per event); every name and operator is schema-qualified instead.
CREATE OR REPLACE FUNCTION pgaudit_kit.leaf_field(p_value bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT COALESCE(pg_catalog.int4send(pg_catalog.length(p_value)) OPERATOR(pg_catalog.||) p_value,
                  '\xffffffff'::bytea)
$fn$;
ALTER FUNCTION pgaudit_kit.leaf_field(bytea) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.leaf_field(bytea) IS 'pgaudit-kit: one length-prefixed field of the canonical encoding';
