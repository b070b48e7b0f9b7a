-- pgaudit-kit: the kit's event triggers, enabled ALWAYS so session_replication_role does not silence them.
-- Creating event triggers needs a superuser, which is why install does. Event triggers fire in name order:
-- pgaudit_kit_check_ddl comes before pgaudit_kit_ddl_command_end (it refuses before anything is regenerated)
-- and pgaudit_kit_guard_drop before pgaudit_kit_sql_drop, which would otherwise end the enrolment of a dropped
-- table. PostgreSQL runs no event trigger for CREATE/ALTER/DROP EVENT TRIGGER, so disabling these needs a
-- superuser and is detected (verify's coverage check, doctor), not refused.
-- Created where missing and never altered where present (see triggers/guard.sql).
DO $event_triggers$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('pgaudit_kit_ddl_command_end', 'ddl_command_end', 'pgaudit_kit.on_ddl_command_end',
       'pgaudit-kit: keep capture in step with DDL; record DDL'),
      ('pgaudit_kit_sql_drop', 'sql_drop', 'pgaudit_kit.on_sql_drop',
       'pgaudit-kit: record drops in audited schemas'),
      ('pgaudit_kit_check_ddl', 'ddl_command_end', 'pgaudit_kit.guard_ddl',
       'pgaudit-kit: refuse DDL that would weaken capture or the kit'),
      ('pgaudit_kit_guard_drop', 'sql_drop', 'pgaudit_kit_guard.refuse_drop',
       'pgaudit-kit: refuse dropping the kit or an audited table'),
      ('pgaudit_kit_refuse_guard_drop', 'sql_drop', 'pgaudit_kit.refuse_guard_drop',
       'pgaudit-kit: refuse dropping the guard schema'),
      ('pgaudit_kit_note_objects', 'ddl_command_start', 'pgaudit_kit.note_kit_objects',
       'pgaudit-kit: count the kit''s objects before each DDL command')
    ) AS t (name, event, function, comment)
  LOOP
    CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_event_trigger e WHERE e.evtname = r.name);
    EXECUTE pg_catalog.format('CREATE EVENT TRIGGER %I ON %I EXECUTE FUNCTION %s()', r.name, r.event, r.function);
    EXECUTE pg_catalog.format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', r.name);
    EXECUTE pg_catalog.format('COMMENT ON EVENT TRIGGER %I IS %L', r.name, r.comment);
  END LOOP;
END
$event_triggers$;
