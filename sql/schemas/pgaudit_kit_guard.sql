-- pgaudit-kit: the guard schema. It holds one function: the sql_drop guard that refuses DROP SCHEMA
-- pgaudit_kit CASCADE. An event trigger whose function is dropped by a command does not fire for that
-- command, so the guard of the kit's schema must live outside it (and, owned by the installing
-- superuser, outside DROP OWNED BY pgaudit_kit_owner too). A twin in the kit's schema guards this one.
CREATE SCHEMA pgaudit_kit_guard;
REVOKE ALL ON SCHEMA pgaudit_kit_guard FROM PUBLIC;
COMMENT ON SCHEMA pgaudit_kit_guard IS 'pgaudit-kit: guards the kit''s schema against DROP SCHEMA ... CASCADE';
