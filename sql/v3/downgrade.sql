-- pgaudit-kit v3 downgrade: removes the guards, lockdown, reviews and maintenance windows and puts back
-- v1's record_transaction. Event triggers go first: PostgreSQL does not run event triggers for that.
DROP EVENT TRIGGER pgaudit_kit_check_ddl;
DROP EVENT TRIGGER pgaudit_kit_guard_drop;
DROP EVENT TRIGGER pgaudit_kit_refuse_guard_drop;
DROP EVENT TRIGGER pgaudit_kit_note_objects;
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
DO $rls$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['install', 'transaction', 'event', 'block', 'checkpoint', 'enrolled_table',
                           'auto_enrol_schema', 'redaction_key'] LOOP
    EXECUTE pg_catalog.format('DROP POLICY IF EXISTS pgaudit_kit_review ON pgaudit_kit.%I', t);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
END
$rls$;
DROP POLICY IF EXISTS pgaudit_kit_review ON pgaudit_kit.alembic_version;
ALTER TABLE pgaudit_kit.alembic_version DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON pgaudit_kit.alembic_version FROM pgaudit_kit_admin, pgaudit_kit_reader;
DROP FUNCTION pgaudit_kit_guard.refuse_drop();
DROP SCHEMA pgaudit_kit_guard;
DROP FUNCTION pgaudit_kit.refuse_guard_drop();
DROP FUNCTION pgaudit_kit.guard_ddl();
DROP FUNCTION pgaudit_kit.grant_capture_to_owner(oid);
DROP FUNCTION pgaudit_kit.follow_column_rename(oid, smallint);
DROP FUNCTION pgaudit_kit.note_kit_objects();
DROP FUNCTION pgaudit_kit.kit_object_count();
DROP FUNCTION pgaudit_kit.kit_namespaces();
DROP FUNCTION pgaudit_kit.check_invariants();
DROP FUNCTION pgaudit_kit.invariant_problems();
DROP FUNCTION pgaudit_kit.record_role_change(text, text, text);
DROP FUNCTION pgaudit_kit.record_review(text, jsonb);
DROP FUNCTION pgaudit_kit.reconcile_table(oid);
DROP FUNCTION pgaudit_kit.lockdown(text);
DROP FUNCTION pgaudit_kit.unlock(text);
DROP FUNCTION pgaudit_kit.set_lockdown(boolean, text);
DROP FUNCTION pgaudit_kit.write_transaction_row();
DROP FUNCTION pgaudit_kit.begin_maintenance(text);
DROP FUNCTION pgaudit_kit.installed_by_this_transaction();
DROP FUNCTION pgaudit_kit.in_maintenance();
DROP FUNCTION pgaudit_kit.guard_config_change();
DROP FUNCTION pgaudit_kit.refuse_history_change();
DROP TABLE pgaudit_kit.pending_check;
DROP TABLE pgaudit_kit.lockdown_event;
DROP TABLE pgaudit_kit.maintenance;
-- Last, v3's record_transaction(), which the v1 file applied next re-creates. v1's sql_drop trigger records
-- drops in the kit's schema (while tables are enrolled) by calling record_transaction(): every drop after
-- this one would fail, and this one cannot be recorded, so that trigger is paused around it.
ALTER EVENT TRIGGER pgaudit_kit_sql_drop DISABLE;
DROP FUNCTION pgaudit_kit.record_transaction();
ALTER EVENT TRIGGER pgaudit_kit_sql_drop ENABLE ALWAYS;
