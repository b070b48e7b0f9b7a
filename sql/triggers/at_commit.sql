-- pgaudit-kit: the kit's deferred constraint triggers, enabled ALWAYS; each runs once per transaction, at its
-- commit, on the one row the transaction writes to the table:
--   pgaudit_kit_check_invariants on pending_check (a scratch row per transaction that ran DDL): checks the
--     invariants on the final state (pgaudit_kit.check_invariants());
--   pgaudit_kit_seal_at_commit on transaction (the who/where row every audited transaction writes once):
--     piggy-backed sealing and the watch notification (pgaudit_kit.seal_at_commit()); queued only when its
--     commit has one of them to do (WHEN pgaudit_kit.commit_work_due()).
-- Created where missing and never altered where present (see triggers/guard.sql).
DO $triggers$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES ('pending_check', 'pgaudit_kit_check_invariants', 'check_invariants', ''),
                                 ('transaction', 'pgaudit_kit_seal_at_commit', 'seal_at_commit',
                                  'WHEN (pgaudit_kit.commit_work_due())')
                         ) AS t (table_name, trigger_name, function_name, condition) LOOP
    CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_trigger g
                           WHERE g.tgrelid = pg_catalog.format('pgaudit_kit.%I', r.table_name)::regclass
                             AND g.tgname = r.trigger_name);
    EXECUTE pg_catalog.format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT ON pgaudit_kit.%I
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW %s EXECUTE FUNCTION pgaudit_kit.%I()',
      r.trigger_name, r.table_name, r.condition, r.function_name);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER %I', r.table_name, r.trigger_name);
  END LOOP;
END
$triggers$;
