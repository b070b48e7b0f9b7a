-- pgaudit-kit: the kit's schema. Everything the kit keeps lives here and is owned by
-- pgaudit_kit_owner; nobody else gets CREATE on it.
CREATE SCHEMA IF NOT EXISTS pgaudit_kit;
ALTER SCHEMA pgaudit_kit OWNER TO pgaudit_kit_owner;
REVOKE ALL ON SCHEMA pgaudit_kit FROM PUBLIC;
COMMENT ON SCHEMA pgaudit_kit IS 'pgaudit-kit: tamper-evident, fail-closed audit history and its machinery';
GRANT USAGE ON SCHEMA pgaudit_kit TO pgaudit_kit_admin, pgaudit_kit_reader;
