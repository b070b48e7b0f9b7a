-- pgaudit-kit: pgaudit_kit.redact(value, ipad, opad) -> 'hmac-sha256:<hex>'
-- HMAC-SHA256 (RFC 2104) of a column's text output with the kit's key, given as precomputed pads so
-- no extension is needed. Equal values give equal digests, so a change stays visible; the value does not.
CREATE OR REPLACE FUNCTION pgaudit_kit.redact(p_value text, p_ipad bytea, p_opad bytea) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE WHEN p_value IS NULL THEN NULL ELSE
    'hmac-sha256:' || pg_catalog.encode(pg_catalog.sha256(p_opad || pg_catalog.sha256(
        p_ipad || pg_catalog.convert_to(p_value, 'UTF8'))), 'hex') END
$fn$;
ALTER FUNCTION pgaudit_kit.redact(text, bytea, bytea) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.redact(text, bytea, bytea) IS 'pgaudit-kit: keyed digest of a redacted value';
