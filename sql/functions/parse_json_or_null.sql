-- pgaudit-kit: pgaudit_kit.parse_json_or_null(text) -> jsonb
-- Parses the free-form pgaudit_kit.context setting. Returns NULL when the text is not valid JSON so the
-- caller can keep it verbatim instead: a malformed context is kept, never lost, and never fails the
-- business write. The EXCEPTION block only classifies input; it never hides an audit-write failure.
CREATE OR REPLACE FUNCTION pgaudit_kit.parse_json_or_null(p_text text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $fn$
BEGIN
  RETURN p_text::jsonb;
EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.parse_json_or_null(text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.parse_json_or_null(text) IS 'pgaudit-kit: text as jsonb, or NULL when it is not JSON';
