-- pgaudit_kit.guard_ddl() -- ddl_command_end. Refuses at once:
--   * any change to the kit's schemas themselves (rename, owner; GRANT on them is checked at commit);
--   * any change to an object in the kit's schemas, or attached to one of its tables (triggers, rules,
--     policies, constraints, defaults), except the generated capture functions, which the kit
--     regenerates and the commit check compares with a fresh generation;
--   * moving an object out of the kit's schemas (ALTER ... SET SCHEMA);
--   * ALTER TABLE ... DISABLE TRIGGER (named, USER, ALL) or ENABLE REPLICA TRIGGER that leaves a kit
--     trigger disabled or replica-only;
--   * a DO INSTEAD rule for INSERT, UPDATE or DELETE on an enrolled table (it would divert or suppress writes);
--   * a foreign or temporary inheritance child of an enrolled table (its rows show, its writes are not captured).
-- Then schedules the commit-time invariant check for the transaction.
CREATE OR REPLACE FUNCTION pgaudit_kit.guard_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cmd record;
  v_kit oid[];
  v_rel oid;
  v_trigger record;
  v_before text := pg_catalog.current_setting('pgaudit_kit.kit_objects_before', true);
  -- the partition of pgaudit_kit.event that a kit function is dropping (retire): see partition_work_allows
  v_work_name text := NULLIF(pg_catalog.current_setting('pgaudit_kit.partition_work', true), '');
BEGIN
  -- The kit's schemas, found through its event triggers by catalog reads only: after a command on the
  -- schemas themselves (rename, owner) the kit's own function names may no longer resolve.
  v_kit := ARRAY(SELECT DISTINCT p.pronamespace FROM pg_catalog.pg_event_trigger et
                   JOIN pg_catalog.pg_proc p ON p.oid = et.evtfoid
                  WHERE et.evtname IN ('pgaudit_kit_check_ddl', 'pgaudit_kit_guard_drop'));
  SELECT c.command_tag, c.object_identity INTO cmd FROM pg_catalog.pg_event_trigger_ddl_commands() c
   WHERE c.classid = 'pg_catalog.pg_namespace'::regclass AND c.objid = ANY (v_kit) LIMIT 1;
  IF FOUND OR pg_catalog.to_regnamespace('pgaudit_kit') IS NULL OR pg_catalog.to_regnamespace('pgaudit_kit_guard') IS NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: it changes the kit''s own schema, which only an upgrade does',
                                  COALESCE(cmd.command_tag, TG_TAG), COALESCE(cmd.object_identity, 'of the kit''s schema')),
      DETAIL = 'Statement: ' || pg_catalog.left(pg_catalog.current_query(), 500),
      HINT = 'The kit''s schema, tables, functions and triggers are installed and upgraded by pgaudit-kit install.';
  END IF;
  IF pgaudit_kit.in_maintenance() THEN
    RETURN;
  END IF;
  IF COALESCE(v_before, '') <> '' AND pgaudit_kit.kit_object_count() < v_before::bigint
     AND NOT (TG_TAG = 'DROP TABLE' AND v_work_name IS NOT NULL
              AND pg_catalog.to_regclass('pgaudit_kit.' || pg_catalog.quote_ident(v_work_name)) IS NULL) THEN
    SELECT c.command_tag, c.object_identity INTO cmd FROM pg_catalog.pg_event_trigger_ddl_commands() c LIMIT 1;
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: it moves one of the kit''s objects out of its schema',
                                  cmd.command_tag, cmd.object_identity),
      DETAIL = 'Statement: ' || pg_catalog.left(pg_catalog.current_query(), 500),
      HINT = 'The kit''s schema, tables, functions and triggers are installed and upgraded by pgaudit-kit install.';
  END IF;
  FOR cmd IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
    -- the relation an object hangs on: a trigger, rule or policy on a kit table is a change to that table
    v_rel := CASE cmd.classid
               WHEN 'pg_catalog.pg_class'::regclass THEN cmd.objid
               WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = cmd.objid)
               WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = cmd.objid)
               WHEN 'pg_catalog.pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = cmd.objid)
               WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT c.conrelid FROM pg_catalog.pg_constraint c WHERE c.oid = cmd.objid)
               WHEN 'pg_catalog.pg_attrdef'::regclass THEN (SELECT d.adrelid FROM pg_catalog.pg_attrdef d WHERE d.oid = cmd.objid)
             END;
    IF (cmd.schema_name IN ('pgaudit_kit', 'pgaudit_kit_guard')
        OR (cmd.classid = 'pg_catalog.pg_proc'::regclass
            AND (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = cmd.objid) = ANY (v_kit))
        OR (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = v_rel) = ANY (v_kit))
       AND NOT (cmd.classid = 'pg_catalog.pg_proc'::regclass
                AND cmd.object_identity ~ '^pgaudit_kit\.capture_[0-9]+\(\)$')
       AND NOT pgaudit_kit.partition_work_allows(v_rel, cmd.command_tag) THEN
      RAISE EXCEPTION USING
        ERRCODE = 'insufficient_privilege',
        MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: the kit''s own objects change only by upgrade',
                                    cmd.command_tag, cmd.object_identity),
        DETAIL = 'Statement: ' || pg_catalog.left(pg_catalog.current_query(), 500),
        HINT = 'The kit''s schema, tables, functions and triggers are installed and upgraded by pgaudit-kit install.';
    END IF;
    IF cmd.classid = 'pg_catalog.pg_trigger'::regclass THEN
      -- a capture function called by a trigger on another table would record that table's rows as the
      -- audited table's: forged history
      SELECT tr.tgname, p.proname INTO v_trigger
        FROM pg_catalog.pg_trigger tr JOIN pg_catalog.pg_proc p ON p.oid = tr.tgfoid
       WHERE tr.oid = cmd.objid AND p.pronamespace = ANY (v_kit) AND p.proname::text ~ '^capture_[0-9]+$'
         AND pg_catalog.substr(p.proname::text, 9)::oid
             NOT IN (tr.tgrelid, COALESCE(pg_catalog.pg_partition_root(tr.tgrelid), tr.tgrelid));
      IF FOUND THEN
        RAISE EXCEPTION USING
          ERRCODE = 'insufficient_privilege',
          MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: pgaudit_kit.%s() records only its own table',
                                      cmd.command_tag, cmd.object_identity, v_trigger.proname),
          HINT = 'To audit a table: pgaudit-kit enable TABLE.';
      END IF;
    END IF;
    IF cmd.classid = 'pg_catalog.pg_class'::regclass
       AND EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
                     JOIN pgaudit_kit.enrolled_table e ON e.relid = i.inhparent
                    WHERE c.oid = cmd.objid AND (c.relkind = 'f' OR c.relpersistence = 't')) THEN
      -- its rows show in the audited parent, but it cannot be audited: a foreign table's writes happen
      -- elsewhere, a temporary table is never enrolled (and vanishes with its session)
      RAISE EXCEPTION USING
        ERRCODE = 'insufficient_privilege',
        MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: a foreign or temporary table cannot be an '
                                    'inheritance child of an audited table', cmd.command_tag, cmd.object_identity),
        DETAIL = 'Statement: ' || pg_catalog.left(pg_catalog.current_query(), 500),
        HINT = 'Its rows would show in the audited table while its writes go unrecorded. Use an ordinary table, '
               'which is enrolled with its parent''s options.';
    END IF;
    IF cmd.classid = 'pg_catalog.pg_rewrite'::regclass
       AND EXISTS (SELECT FROM pg_catalog.pg_rewrite w JOIN pgaudit_kit.enrolled_table e ON e.relid = w.ev_class
                    WHERE w.oid = cmd.objid AND w.is_instead AND w.ev_type IN ('2', '3', '4')) THEN
      -- an INSTEAD rule runs before the table is written: capture would never see the diverted or dropped row
      RAISE EXCEPTION USING
        ERRCODE = 'insufficient_privilege',
        MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: a DO INSTEAD rule on an audited table would '
                                    'divert or suppress its writes unrecorded', cmd.command_tag, cmd.object_identity),
        DETAIL = 'Statement: ' || pg_catalog.left(pg_catalog.current_query(), 500),
        HINT = 'A DO ALSO rule or a trigger keeps the write, and is recorded as DDL.';
    END IF;
    IF cmd.command_tag = 'ALTER TABLE' AND cmd.object_type = 'table column' AND cmd.objsubid > 0 THEN
      PERFORM pgaudit_kit.follow_column_rename(cmd.objid, cmd.objsubid::smallint);
    END IF;
    IF cmd.classid = 'pg_catalog.pg_proc'::regclass AND cmd.command_tag = 'ALTER FUNCTION'
       AND cmd.object_identity ~ '^pgaudit_kit\.capture_[0-9]+\(\)$' THEN
      -- (enrolment hands the new capture function to the kit owner) Creating or attaching a partition
      -- clones the row trigger, which needs EXECUTE on the capture function for the role doing it: the
      -- table's owner gets it (a trigger function cannot be called directly, and using it on another
      -- table is refused above).
      PERFORM pgaudit_kit.grant_capture_to_owner(cmd.objid);
    ELSIF cmd.command_tag = 'ALTER TABLE' AND cmd.classid = 'pg_catalog.pg_class'::regclass
          AND EXISTS (SELECT FROM pgaudit_kit.enrolled_table e WHERE e.relid = cmd.objid) THEN
      PERFORM pgaudit_kit.grant_capture_to_owner(
          pg_catalog.to_regprocedure(pg_catalog.format('pgaudit_kit.%I()', 'capture_' || cmd.objid)));  -- new owner
    END IF;
    IF cmd.command_tag = 'ALTER TABLE' AND cmd.classid = 'pg_catalog.pg_class'::regclass THEN
      SELECT tr.tgname, tr.tgenabled INTO v_trigger
        FROM pg_catalog.pg_trigger tr
       WHERE tr.tgrelid = cmd.objid AND tr.tgname::text LIKE 'pgaudit\_kit\_capture\_%' AND tr.tgenabled IN ('D', 'R')
       LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION USING
          ERRCODE = 'insufficient_privilege',
          MESSAGE = pg_catalog.format('pgaudit-kit: %s %s is refused: it would %s the audit trigger %s',
                                      cmd.command_tag, cmd.object_identity,
                                      CASE v_trigger.tgenabled WHEN 'D' THEN 'disable' ELSE 'make replica-only' END,
                                      v_trigger.tgname),
          HINT = pg_catalog.format('Capture of an audited table cannot be switched off. To stop auditing it: '
                                   'pgaudit-kit disable %s --reason TEXT', cmd.object_identity);
      END IF;
    END IF;
  END LOOP;
  INSERT INTO pgaudit_kit.pending_check (xid) VALUES (pg_catalog.pg_current_xact_id()) ON CONFLICT (xid) DO NOTHING;
END
$fn$;
ALTER FUNCTION pgaudit_kit.guard_ddl() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.guard_ddl() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.guard_ddl() IS
    'pgaudit-kit: refuse DDL on the kit''s objects or disabling capture; schedule the commit-time check';
