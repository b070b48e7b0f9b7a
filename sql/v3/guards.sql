-- pgaudit-kit v3: guard triggers on the kit's tables, enabled ALWAYS (session_replication_role does not
-- skip them). History is append-only; enrolment settings (rows added too) change only through the kit's
-- functions.
-- Not guarded: alembic_version (Alembic rewrites it on upgrade) and the scratch table pending_check.
DO $guards$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['install', 'transaction', 'event', 'block', 'checkpoint', 'maintenance',
                           'lockdown_event', 'redaction_key'] LOOP
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_guard BEFORE UPDATE OR DELETE OR TRUNCATE ON pgaudit_kit.%I
      FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.refuse_history_change()', t);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER pgaudit_kit_guard', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['enrolled_table', 'auto_enrol_schema'] LOOP
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgaudit_kit.%I
      FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.guard_config_change()', t);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER pgaudit_kit_guard', t);
  END LOOP;
END
$guards$;
CREATE CONSTRAINT TRIGGER pgaudit_kit_check_invariants AFTER INSERT ON pgaudit_kit.pending_check
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pgaudit_kit.check_invariants();
ALTER TABLE pgaudit_kit.pending_check ENABLE ALWAYS TRIGGER pgaudit_kit_check_invariants;
