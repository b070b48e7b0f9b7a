-- pgaudit-kit: pgaudit_kit.auto_enrol_schema -- schemas whose new tables are enrolled by the same
-- transaction that creates them (the ddl_command_end event trigger does it).
CREATE TABLE pgaudit_kit.auto_enrol_schema (
    schema_name       text PRIMARY KEY,
    excluded_columns  text[] NOT NULL DEFAULT '{}',
    redacted_columns  text[] NOT NULL DEFAULT '{}',
    truncate_policy   text NOT NULL DEFAULT 'capture' CHECK (truncate_policy IN ('capture', 'refuse')),
    capture_statement boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by        text NOT NULL DEFAULT session_user
);
ALTER TABLE pgaudit_kit.auto_enrol_schema OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.auto_enrol_schema IS
    'pgaudit-kit: schemas whose new tables are enrolled automatically, with the options they get';
GRANT SELECT ON pgaudit_kit.auto_enrol_schema TO pgaudit_kit_admin, pgaudit_kit_reader;
