-- pgaudit-kit: pgaudit_kit.protect_event_partition(partition) -- the guards of pgaudit_kit.event on one of its
-- partitions. PostgreSQL does not carry them over: a statement-level trigger of the parent does not fire for a
-- statement that names a partition, and row-level security and privileges are checked on the table a statement
-- names. So each partition refuses UPDATE and TRUNCATE (pgaudit_kit_guard) and checks DELETE against a recorded
-- retirement (pgaudit_kit_retire_only), enabled ALWAYS, and has row-level security with the kit's read policy and
-- no privileges (it is read through pgaudit_kit.event): pg_write_all_data may not insert into it, pg_read_all_data
-- sees nothing. Created where missing and never altered where present (see triggers/guard.sql).
CREATE OR REPLACE FUNCTION pgaudit_kit.protect_event_partition(p_partition regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_name text := (SELECT c.relname::text FROM pg_catalog.pg_class c
                   WHERE c.oid = p_partition AND c.relnamespace = 'pgaudit_kit'::regnamespace
                     AND pg_catalog.pg_partition_root(c.oid) = 'pgaudit_kit.event'::regclass AND c.relkind = 'r');
  v_index record;
BEGIN
  IF v_name IS NULL THEN
    RAISE EXCEPTION 'pgaudit-kit: % is not a partition of pgaudit_kit.event', p_partition
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the DDL guards let this transaction change this one partition (pgaudit_kit.guard_ddl)
  PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', v_name, true);
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = p_partition AND g.tgname = 'pgaudit_kit_guard') THEN
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_guard BEFORE UPDATE OR TRUNCATE ON pgaudit_kit.%I
      FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.refuse_history_change()', v_name);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER pgaudit_kit_guard', v_name);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = p_partition AND g.tgname = 'pgaudit_kit_retire_only') THEN
    EXECUTE pg_catalog.format('CREATE TRIGGER pgaudit_kit_retire_only AFTER DELETE ON pgaudit_kit.%I
      REFERENCING OLD TABLE AS pgaudit_kit_gone FOR EACH STATEMENT EXECUTE FUNCTION pgaudit_kit.refuse_unretired_removal()',
      v_name);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ALWAYS TRIGGER pgaudit_kit_retire_only', v_name);
  END IF;
  -- its indexes named after its parent's (event_pkey -> event_p3_pkey, event_row_idx -> event_p3_row_idx ...) rather
  -- than after their columns, as the first partition's are when an upgrade makes it of the unpartitioned table
  FOR v_index IN
    SELECT i.inhrelid::regclass AS child, pg_catalog.regexp_replace(c.relname::text, '^event_', v_name || '_') AS name
      FROM pg_catalog.pg_index x
      JOIN pg_catalog.pg_inherits i ON i.inhrelid = x.indexrelid
      JOIN pg_catalog.pg_class c ON c.oid = i.inhparent
     WHERE x.indrelid = p_partition
       AND (SELECT k.relname::text FROM pg_catalog.pg_class k WHERE k.oid = x.indexrelid)
           <> pg_catalog.regexp_replace(c.relname::text, '^event_', v_name || '_')
  LOOP
    EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', v_index.child, v_index.name);
  END LOOP;
  EXECUTE pg_catalog.format('COMMENT ON TABLE pgaudit_kit.%I IS %L', v_name,
                            'pgaudit-kit: a partition of pgaudit_kit.event (read through it)');
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = p_partition AND p.polname = 'pgaudit_kit_review') THEN
    EXECUTE pg_catalog.format('CREATE POLICY pgaudit_kit_review ON pgaudit_kit.%I FOR SELECT
      TO pgaudit_kit_admin, pgaudit_kit_reader USING (true)', v_name);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ROW LEVEL SECURITY', v_name);
    -- privileges written out (its owner's alone), as after an upgrade has revoked the old table's
    EXECUTE pg_catalog.format('REVOKE ALL ON pgaudit_kit.%I FROM PUBLIC', v_name);
  END IF;
  PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', '', true);
END
$fn$;
ALTER FUNCTION pgaudit_kit.protect_event_partition(regclass) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.protect_event_partition(regclass) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.protect_event_partition(regclass) IS
    'pgaudit-kit: the guards, row-level security and read policy of pgaudit_kit.event on one of its partitions';
