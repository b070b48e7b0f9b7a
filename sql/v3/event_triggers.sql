-- pgaudit-kit v3: the DDL guards' event triggers, enabled ALWAYS. Event triggers fire in name order:
-- pgaudit_kit_check_ddl comes before pgaudit_kit_ddl_command_end (it refuses before anything is
-- regenerated) and pgaudit_kit_guard_drop before pgaudit_kit_sql_drop, which would otherwise end the
-- enrolment of a dropped table. PostgreSQL runs no event trigger for CREATE/ALTER/DROP EVENT TRIGGER, so disabling
-- these needs a superuser and is detected (verify's coverage check, doctor), not refused.
CREATE EVENT TRIGGER pgaudit_kit_check_ddl ON ddl_command_end EXECUTE FUNCTION pgaudit_kit.guard_ddl();
CREATE EVENT TRIGGER pgaudit_kit_guard_drop ON sql_drop EXECUTE FUNCTION pgaudit_kit_guard.refuse_drop();
CREATE EVENT TRIGGER pgaudit_kit_refuse_guard_drop ON sql_drop EXECUTE FUNCTION pgaudit_kit.refuse_guard_drop();
CREATE EVENT TRIGGER pgaudit_kit_note_objects ON ddl_command_start EXECUTE FUNCTION pgaudit_kit.note_kit_objects();
ALTER EVENT TRIGGER pgaudit_kit_check_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER pgaudit_kit_guard_drop ENABLE ALWAYS;
ALTER EVENT TRIGGER pgaudit_kit_refuse_guard_drop ENABLE ALWAYS;
ALTER EVENT TRIGGER pgaudit_kit_note_objects ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER pgaudit_kit_check_ddl IS 'pgaudit-kit: refuse DDL that would weaken capture or the kit';
COMMENT ON EVENT TRIGGER pgaudit_kit_guard_drop IS 'pgaudit-kit: refuse dropping the kit or an audited table';
COMMENT ON EVENT TRIGGER pgaudit_kit_refuse_guard_drop IS 'pgaudit-kit: refuse dropping the guard schema';
COMMENT ON EVENT TRIGGER pgaudit_kit_note_objects IS 'pgaudit-kit: count the kit''s objects before each DDL command';
