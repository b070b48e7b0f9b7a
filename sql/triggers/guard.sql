-- pgaudit-kit: guard triggers on the kit's tables, enabled ALWAYS (session_replication_role does not skip
-- them). History is append-only; enrolment settings (rows added too) change only through the kit's functions.
-- The history tables that retirement empties (event, transaction, block, checkpoint) refuse UPDATE and TRUNCATE
-- before the fact and check DELETE after it (pgaudit_kit_retire_only: within a recorded retirement, or refused).
-- Not guarded: alembic_version (Alembic rewrites it on upgrade) and the scratch table pending_check.
-- Created where missing and never altered where present: re-applied after an upgrade, this must not re-enable
-- a trigger somebody disabled (verify reports that; an upgrade must not erase the evidence).
DO $guards$
DECLARE
  t text;
  v_function text;
  v_events text;
BEGIN
  FOREACH t IN ARRAY ARRAY['install', 'transaction', 'event', 'event_chunk', 'block', 'checkpoint', 'maintenance',
                           'lockdown_event', 'redaction_key', 'enrolled_table', 'auto_enrol_schema', 'retention',
                           'retirement'] LOOP
    IF t IN ('transaction', 'event', 'block', 'checkpoint')
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid = pg_catalog.format('pgaudit_kit.%I', t)::regclass
                          AND g.tgname = 'pgaudit_kit_retire_only') THEN
      EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_retire_only AFTER DELETE ON pgaudit_kit.%I
        REFERENCING OLD TABLE AS pgaudit_kit_gone FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.refuse_unretired_removal()', t);
      EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER pgaudit_kit_retire_only', t);
    END IF;
    CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_trigger g
                           WHERE g.tgrelid = pg_catalog.format('pgaudit_kit.%I', t)::regclass
                             AND g.tgname = 'pgaudit_kit_guard');
    IF t IN ('enrolled_table', 'auto_enrol_schema') THEN
      v_function := 'guard_config_change'; v_events := 'INSERT OR UPDATE OR DELETE OR TRUNCATE';
    ELSIF t IN ('transaction', 'event', 'block', 'checkpoint') THEN
      v_function := 'refuse_history_change'; v_events := 'UPDATE OR TRUNCATE';
    ELSIF t = 'event_chunk' THEN
      -- DELETE is checked after the fact (pgaudit_kit_chunk_loss below): sealing deletes what it has written
      v_function := 'refuse_history_change'; v_events := 'UPDATE OR TRUNCATE';
    ELSE
      v_function := 'refuse_history_change'; v_events := 'UPDATE OR DELETE OR TRUNCATE';
    END IF;
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_guard BEFORE %s ON pgaudit_kit.%I
      FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.%I()', v_events, t, v_function);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER pgaudit_kit_guard', t);
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = 'pgaudit_kit.event_chunk'::regclass
                    AND g.tgname = 'pgaudit_kit_chunk_loss') THEN
    CREATE TRIGGER pgaudit_kit_chunk_loss AFTER DELETE ON pgaudit_kit.event_chunk REFERENCING OLD TABLE AS pgaudit_kit_gone
      FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.refuse_chunk_loss();
    ALTER TABLE pgaudit_kit.event_chunk ENABLE ALWAYS TRIGGER pgaudit_kit_chunk_loss;
  END IF;
END
$guards$;
