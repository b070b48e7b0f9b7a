-- pgaudit-kit v3 downgrade: removes the guards, lockdown, reviews and maintenance windows and puts back
-- v1's record_transaction. Event triggers go first: PostgreSQL does not run event triggers for that.
DROP EVENT TRIGGER pgaudit_kit_check_ddl;
DROP EVENT TRIGGER pgaudit_kit_guard_drop;
DROP EVENT TRIGGER pgaudit_kit_refuse_guard_drop;
DROP TRIGGER pgaudit_kit_check_invariants ON pgaudit_kit.pending_check;
DO $guards$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['install', 'transaction', 'event', 'block', 'checkpoint', 'maintenance', 'lockdown_event',
                           'redaction_key', 'enrolled_table', 'auto_enrol_schema'] LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER pgaudit_kit_guard ON pgaudit_kit.%I', t);
  END LOOP;
END
$guards$;
DROP FUNCTION pgaudit_kit_guard.refuse_drop();
DROP SCHEMA pgaudit_kit_guard;
DROP FUNCTION pgaudit_kit.refuse_guard_drop();
DROP FUNCTION pgaudit_kit.guard_ddl();
DROP FUNCTION pgaudit_kit.kit_namespaces();
DROP FUNCTION pgaudit_kit.check_invariants();
DROP FUNCTION pgaudit_kit.invariant_problems();
DROP FUNCTION pgaudit_kit.record_role_change(text, text, text);
DROP FUNCTION pgaudit_kit.record_review(text, jsonb);
DROP FUNCTION pgaudit_kit.lockdown(text);
DROP FUNCTION pgaudit_kit.unlock(text);
DROP FUNCTION pgaudit_kit.set_lockdown(boolean, text);
DROP FUNCTION pgaudit_kit.record_transaction();
DROP FUNCTION pgaudit_kit.write_transaction_row();
DROP FUNCTION pgaudit_kit.begin_maintenance(text);
DROP FUNCTION pgaudit_kit.in_maintenance();
DROP FUNCTION pgaudit_kit.guard_config_change();
DROP FUNCTION pgaudit_kit.refuse_history_change();
DROP TABLE pgaudit_kit.pending_check;
DROP TABLE pgaudit_kit.lockdown_event;
DROP TABLE pgaudit_kit.maintenance;
