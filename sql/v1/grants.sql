-- pgaudit-kit v1: privileges. Nobody writes the kit's tables directly: capture runs through
-- SECURITY DEFINER functions owned by pgaudit_kit_owner. Readers and admins may read history (not
-- the redaction key); only admins may change enrolment.
GRANT USAGE ON SCHEMA pgaudit_kit TO pgaudit_kit_admin, pgaudit_kit_reader;
GRANT SELECT ON pgaudit_kit.install, pgaudit_kit.enrolled_table, pgaudit_kit.auto_enrol_schema,
                pgaudit_kit.transaction, pgaudit_kit.event, pgaudit_kit.change
    TO pgaudit_kit_admin, pgaudit_kit_reader;
GRANT EXECUTE ON FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean),
                          pgaudit_kit.disable_table(regclass, text),
                          pgaudit_kit.enable_schema(text, boolean, text[], text[], text, boolean),
                          pgaudit_kit.disable_schema(text, text)
    TO pgaudit_kit_admin;
