-- pgaudit_kit.capture_settings(table) -> text[]: the SET clauses of a table's capture function, exactly
-- as pg_proc.proconfig stores them (name=value, in this order): search_path first, then what its column
-- types need, then enable_nestloop = off in statement mode (a cached generic plan assumes one-row
-- transition tables; its nested-loop join of old and new rows would make a later bulk UPDATE in the same
-- session quadratic). The generator writes them from this list and the invariants compare it.
CREATE OR REPLACE FUNCTION pgaudit_kit.capture_settings(p_relid oid) RETURNS text[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT ARRAY['search_path=""'] OPERATOR(pg_catalog.||) ARRAY(
    SELECT s.name OPERATOR(pg_catalog.||) '=' OPERATOR(pg_catalog.||) s.value
      FROM (VALUES (1, 'TimeZone', 'UTC'), (2, 'DateStyle', 'ISO, YMD'), (3, 'IntervalStyle', 'postgres'),
                   (4, 'extra_float_digits', '1'), (5, 'bytea_output', 'hex'), (6, 'lc_monetary', 'C'),
                   (7, 'enable_nestloop', 'off')) AS s(ord, name, value)
     WHERE s.name IN (SELECT pg_catalog.unnest(pgaudit_kit.output_settings(a.atttypid))
                        FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped)
        OR (s.name = 'enable_nestloop'
            AND EXISTS (SELECT FROM pgaudit_kit.enrolled_table e
                         WHERE e.relid = p_relid AND e.capture_mode = 'statement'))
     ORDER BY s.ord)
$fn$;
ALTER FUNCTION pgaudit_kit.capture_settings(oid) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.capture_settings(oid) IS
    'pgaudit-kit: the settings a table''s capture function pins (as pg_proc.proconfig stores them)';
