-- pgaudit-kit v1: the kit's event triggers, enabled ALWAYS so session_replication_role does not
-- silence them. Creating event triggers needs a superuser, which is why install does.
CREATE EVENT TRIGGER pgaudit_kit_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION pgaudit_kit.on_ddl_command_end();
CREATE EVENT TRIGGER pgaudit_kit_sql_drop ON sql_drop
    EXECUTE FUNCTION pgaudit_kit.on_sql_drop();
ALTER EVENT TRIGGER pgaudit_kit_ddl_command_end ENABLE ALWAYS;
ALTER EVENT TRIGGER pgaudit_kit_sql_drop ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER pgaudit_kit_ddl_command_end IS 'pgaudit-kit: keep capture in step with DDL; record DDL';
COMMENT ON EVENT TRIGGER pgaudit_kit_sql_drop IS 'pgaudit-kit: record drops in audited schemas';
