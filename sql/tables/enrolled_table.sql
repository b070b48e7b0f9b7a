-- pgaudit-kit: pgaudit_kit.enrolled_table -- one row per audited table and its capture options.
-- Rows change only through pgaudit_kit.enable_table / disable_table, which record every change as a
-- control event in pgaudit_kit.event.
CREATE TABLE pgaudit_kit.enrolled_table (
    relid             oid PRIMARY KEY,
    schema_name       text NOT NULL,
    table_name        text NOT NULL,
    capture_mode      text NOT NULL CHECK (capture_mode IN ('statement', 'row')),
    pk_columns        text[],
    excluded_columns  text[] NOT NULL DEFAULT '{}',
    redacted_columns  text[] NOT NULL DEFAULT '{}',
    truncate_policy   text NOT NULL DEFAULT 'capture' CHECK (truncate_policy IN ('capture', 'refuse')),
    capture_statement boolean NOT NULL DEFAULT false,
    shape_signature   text NOT NULL,
    enrolled_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    enrolled_by       text NOT NULL DEFAULT session_user,
    UNIQUE (schema_name, table_name)
);
ALTER TABLE pgaudit_kit.enrolled_table OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.enrolled_table IS 'pgaudit-kit: audited tables and their capture options';
COMMENT ON COLUMN pgaudit_kit.enrolled_table.capture_mode IS
    'statement: set-based statement triggers with transition tables; row: row triggers (partitioned tables, inheritance)';
COMMENT ON COLUMN pgaudit_kit.enrolled_table.pk_columns IS 'Primary key columns in key order; NULL when the table has none';
COMMENT ON COLUMN pgaudit_kit.enrolled_table.excluded_columns IS 'Columns never recorded';
COMMENT ON COLUMN pgaudit_kit.enrolled_table.redacted_columns IS 'Columns recorded as a keyed HMAC-SHA256 digest, never the value';
COMMENT ON COLUMN pgaudit_kit.enrolled_table.shape_signature IS
    'Digest of name and columns the capture function was generated for; a DDL that changes it regenerates capture';
GRANT SELECT ON pgaudit_kit.enrolled_table TO pgaudit_kit_admin, pgaudit_kit_reader;
