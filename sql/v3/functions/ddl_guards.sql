-- pgaudit-kit v3: DDL guards (event triggers, ENABLE ALWAYS). What the kit itself never does is refused
-- at once; whether capture is still whole is judged at commit (pgaudit_kit.check_invariants), because
-- the kit's own enrol/disable steps pass through incomplete states. A maintenance window
-- (pgaudit_kit.begin_maintenance, superuser only, recorded) lets `pgaudit-kit install` upgrade the kit.

-- pgaudit_kit.kit_namespaces() -> oid[]: the kit's schema and the guard schema, found through the kit's
-- event triggers so that a renamed schema is still recognised.
CREATE FUNCTION pgaudit_kit.kit_namespaces() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT pg_catalog.array_agg(DISTINCT p.pronamespace)
    FROM pg_catalog.pg_event_trigger et JOIN pg_catalog.pg_proc p ON p.oid = et.evtfoid
   WHERE et.evtname IN ('pgaudit_kit_check_ddl', 'pgaudit_kit_guard_drop')
$fn$;
ALTER FUNCTION pgaudit_kit.kit_namespaces() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.kit_namespaces() IS 'pgaudit-kit: OIDs of the kit''s schema and its guard schema';

-- pgaudit_kit.kit_object_count() -> bigint: functions (other than generated capture functions) and
-- relations in the kit's schemas. Compared before and after each DDL command: ALTER ... SET SCHEMA
-- moves an object out of the kit's schema, after which nothing about it names the kit any more.
CREATE FUNCTION pgaudit_kit.kit_object_count() RETURNS bigint
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = ANY (pgaudit_kit.kit_namespaces()) AND p.proname::text !~ '^capture_[0-9]+$')
       + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = ANY (pgaudit_kit.kit_namespaces()))
$fn$;
ALTER FUNCTION pgaudit_kit.kit_object_count() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.kit_object_count() IS 'pgaudit-kit: how many objects the kit''s schemas hold';

-- pgaudit_kit.note_kit_objects() -- ddl_command_start: remembers kit_object_count() for the command's
-- end (a transaction-local setting, overwritten at the start of every command).
CREATE FUNCTION pgaudit_kit.note_kit_objects() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF pg_catalog.to_regnamespace('pgaudit_kit') IS NOT NULL THEN
    PERFORM pg_catalog.set_config('pgaudit_kit.kit_objects_before', pgaudit_kit.kit_object_count()::text, true);
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.note_kit_objects() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.note_kit_objects() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.note_kit_objects() IS 'pgaudit-kit: count the kit''s objects before a DDL command';

-- pgaudit_kit.grant_capture_to_owner(function) -- EXECUTE on a capture function for the owner of its
-- table, when missing (see guard_ddl).
CREATE FUNCTION pgaudit_kit.grant_capture_to_owner(p_function oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_owner oid;
BEGIN
  SELECT c.relowner INTO v_owner FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.substr(p.proname::text, 9)::oid
   WHERE p.oid = p_function AND p.proowner = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'pgaudit_kit_owner');
  IF FOUND AND NOT pg_catalog.has_function_privilege(v_owner, p_function, 'EXECUTE') THEN
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', p_function::regprocedure,
                              (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = v_owner));
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.grant_capture_to_owner(oid) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.grant_capture_to_owner(oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.grant_capture_to_owner(oid) IS
    'pgaudit-kit: let the owner of an audited table create its partitions (EXECUTE on its capture function)';

-- pgaudit_kit.follow_column_rename(table, attnum) -- a redacted or excluded column that is renamed keeps
-- its option under the new name (re-enrolment, recorded as an options change). Without this, capture
-- regenerated after the rename would no longer know the column and record it in clear. Runs before the
-- kit's ddl_command_end trigger regenerates capture (event triggers fire in name order).
CREATE FUNCTION pgaudit_kit.follow_column_rename(p_relid oid, p_attnum smallint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_new text;
  v_old text[];
BEGIN
  SELECT * INTO cfg FROM pgaudit_kit.enrolled_table WHERE relid = p_relid;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT a.attname::text INTO v_new FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = p_relid AND a.attnum = p_attnum AND NOT a.attisdropped;
  v_old := ARRAY(SELECT c FROM pg_catalog.unnest(cfg.excluded_columns || cfg.redacted_columns) c
                  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                                     WHERE a.attrelid = p_relid AND a.attname = c AND NOT a.attisdropped));
  -- a rename reports the renamed column; exactly one option name is gone: that was its old name
  IF v_new IS NULL OR pg_catalog.cardinality(v_old) <> 1 OR v_new = ANY (cfg.excluded_columns || cfg.redacted_columns) THEN
    RETURN;
  END IF;
  PERFORM pgaudit_kit.enable_table(p_relid::regclass,
      pg_catalog.array_replace(cfg.excluded_columns, v_old[1], v_new),
      pg_catalog.array_replace(cfg.redacted_columns, v_old[1], v_new),
      cfg.truncate_policy, cfg.capture_statement);
END
$fn$;
ALTER FUNCTION pgaudit_kit.follow_column_rename(oid, smallint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.follow_column_rename(oid, smallint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.follow_column_rename(oid, smallint) IS
    'pgaudit-kit: a renamed redacted or excluded column keeps its option';

-- pgaudit_kit.guard_ddl() -- ddl_command_end. Refuses at once:
--   * any change to the kit's schemas themselves (rename, owner; GRANT on them is checked at commit);
--   * any change to an object in the kit's schemas, or attached to one of its tables (triggers, rules,
--     policies, constraints, defaults), except the generated capture functions, which the kit
--     regenerates and the commit check compares with a fresh generation;
--   * moving an object out of the kit's schemas (ALTER ... SET SCHEMA);
--   * ALTER TABLE ... DISABLE TRIGGER (named, USER, ALL) or ENABLE REPLICA TRIGGER that leaves a kit
--     trigger disabled or replica-only.
-- Then schedules the commit-time invariant check for the transaction.
CREATE FUNCTION pgaudit_kit.guard_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  cmd record;
  v_kit oid[];
  v_rel oid;
  v_trigger record;
  v_before text := pg_catalog.current_setting('pgaudit_kit.kit_objects_before', true);
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
  IF COALESCE(v_before, '') <> '' AND pgaudit_kit.kit_object_count() < v_before::bigint THEN
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
                AND cmd.object_identity ~ '^pgaudit_kit\.capture_[0-9]+\(\)$') THEN
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

-- pgaudit_kit_guard.refuse_drop() -- sql_drop. Lives outside the kit's schema so that it still fires
-- when that schema is dropped. Refuses dropping anything of the kit's (except generated capture
-- functions, which the commit check covers) and dropping an enrolled table that was not disabled first.
CREATE FUNCTION pgaudit_kit_guard.refuse_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_kit_gone text;
  v_table text;
  v_maintenance boolean;
BEGIN
  SELECT o.object_identity INTO v_kit_gone
    FROM pg_catalog.pg_event_trigger_dropped_objects() o
   WHERE (o.schema_name IN ('pgaudit_kit', 'pgaudit_kit_guard')
          OR (o.object_type = 'schema' AND o.object_identity IN ('pgaudit_kit', 'pgaudit_kit_guard'))
          -- a trigger of a kit table (PostgreSQL 14 reports no schema for triggers)
          OR (o.object_type = 'trigger' AND o.address_names[1] IN ('pgaudit_kit', 'pgaudit_kit_guard')))
     AND NOT (o.object_type = 'function' AND o.object_identity ~ '^pgaudit_kit\.capture_[0-9]+\(\)$')
   ORDER BY o.original DESC
   LIMIT 1;
  IF v_kit_gone IS NULL THEN
    SELECT pg_catalog.format('%I.%I', e.schema_name, e.table_name) INTO v_table
      FROM pg_catalog.pg_event_trigger_dropped_objects() o JOIN pgaudit_kit.enrolled_table e ON e.relid = o.objid
     WHERE o.classid = 'pg_catalog.pg_class'::regclass AND o.objsubid = 0
     LIMIT 1;
  END IF;
  IF v_kit_gone IS NULL AND v_table IS NULL THEN
    -- a partition (or any table) still carrying capture triggers: its rows would go unrecorded
    SELECT o.object_identity INTO v_table
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'table'
       AND EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() t
                    WHERE t.object_type = 'trigger' AND t.address_names[1:2] = o.address_names
                      AND t.address_names[3] LIKE 'pgaudit\_kit\_capture\_%')
     LIMIT 1;
  END IF;
  IF v_kit_gone IS NULL AND v_table IS NULL THEN
    RETURN;
  END IF;
  -- A maintenance window (an upgrade) may drop the kit's objects. The check is dynamic: this function
  -- must still run when the kit's schema is among the objects being dropped.
  BEGIN
    EXECUTE 'SELECT pgaudit_kit.in_maintenance()' INTO v_maintenance;
  EXCEPTION WHEN undefined_function OR undefined_table OR invalid_schema_name THEN
    v_maintenance := false;
  END;
  IF v_maintenance THEN
    RETURN;
  END IF;
  IF v_kit_gone IS NOT NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: %s would drop %s: refused, audit history and its guards cannot '
                                  'be dropped', TG_TAG, v_kit_gone),
      HINT = 'To remove the kit (refused while history exists): pgaudit-kit uninstall.';
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'insufficient_privilege',
    MESSAGE = pg_catalog.format('pgaudit-kit: %s would drop the audited table %s: refused', TG_TAG, v_table),
    HINT = pg_catalog.format('Stop auditing it first (recorded with who and why): pgaudit-kit disable %s --reason TEXT '
                             '(a partition: detach it first with ALTER TABLE ... DETACH PARTITION, which is recorded)',
                             v_table);
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit_guard.refuse_drop() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit_guard.refuse_drop() IS
    'pgaudit-kit: refuse dropping the kit''s objects or an audited table';

-- pgaudit_kit.refuse_guard_drop() -- sql_drop, the twin in the kit's schema: refuses dropping the guard
-- schema or its function (which would take pgaudit_kit_guard.refuse_drop with it unseen).
CREATE FUNCTION pgaudit_kit.refuse_guard_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_gone text;
BEGIN
  SELECT o.object_identity INTO v_gone FROM pg_catalog.pg_event_trigger_dropped_objects() o
   WHERE o.schema_name = 'pgaudit_kit_guard' OR (o.object_type = 'schema' AND o.object_identity = 'pgaudit_kit_guard')
   LIMIT 1;
  IF v_gone IS NOT NULL AND NOT pgaudit_kit.in_maintenance() THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: %s would drop %s: refused, it guards the audit history', TG_TAG, v_gone),
      HINT = 'To remove the kit (refused while history exists): pgaudit-kit uninstall.';
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.refuse_guard_drop() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.refuse_guard_drop() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refuse_guard_drop() IS 'pgaudit-kit: refuse dropping the guard schema';
