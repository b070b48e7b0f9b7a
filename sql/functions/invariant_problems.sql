-- pgaudit-kit: pgaudit_kit.invariant_problems -- what breaks capture or the kit's guards now (empty when intact)
CREATE OR REPLACE FUNCTION pgaudit_kit.invariant_problems() RETURNS TABLE (kind text, object text, problem text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  e record;
  t record;
  v_name text;
  v_fn oid;
  v_expected text[];
BEGIN
  FOR e IN SELECT et.relid, et.schema_name, et.table_name, et.capture_mode, c.oid IS NOT NULL AS present,
                  EXISTS (SELECT FROM pg_catalog.unnest(et.pk_columns) u WHERE u IS NULL)
                  OR EXISTS (SELECT FROM pg_catalog.unnest(et.excluded_columns) u WHERE u IS NULL)
                  OR EXISTS (SELECT FROM pg_catalog.unnest(et.redacted_columns) u WHERE u IS NULL)
                  OR COALESCE(pg_catalog.array_ndims(et.pk_columns), 1) > 1
                  OR COALESCE(pg_catalog.array_ndims(et.excluded_columns), 1) > 1
                  OR COALESCE(pg_catalog.array_ndims(et.redacted_columns), 1) > 1 AS malformed
             FROM pgaudit_kit.enrolled_table et LEFT JOIN pg_catalog.pg_class c ON c.oid = et.relid
            ORDER BY et.schema_name, et.table_name LOOP
    v_name := pg_catalog.format('%I.%I', e.schema_name, e.table_name);
    IF e.malformed THEN
      -- the kit writes one-dimensional lists of column names; anything else was written behind its back, and
      -- no capture function can be generated from it to compare with
      kind := 'coverage_enrolment';
      object := v_name;
      problem := pg_catalog.format('enrolment of %s is malformed (a column list holds NULL or is not '
                                   'one-dimensional): it was written behind the kit''s back', v_name);
      RETURN NEXT;
      CONTINUE;
    END IF;
    kind := 'coverage_trigger';
    IF NOT e.present THEN
      object := v_name;
      problem := pg_catalog.format('enrolled table %s no longer exists (after a restore: run pgaudit-kit install '
                                   'to re-bind capture)', v_name);
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_fn := pg_catalog.to_regprocedure(pg_catalog.format('pgaudit_kit.%I()', 'capture_' || e.relid));
    IF v_fn IS NULL THEN
      object := 'pgaudit_kit.capture_' || e.relid;
      problem := pg_catalog.format('capture function of %s is missing: its writes are not recorded', v_name);
      RETURN NEXT;
    ELSIF NOT EXISTS (SELECT FROM pg_catalog.pg_proc p
                       WHERE p.oid = v_fn AND p.prosecdef
                         AND p.proowner = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'pgaudit_kit_owner')
                         AND p.prosrc = pg_catalog.substring(pgaudit_kit.capture_function_source(e.relid),
                                                             '\$capture\$(.*)\$capture\$')
                         AND p.proconfig = pgaudit_kit.capture_settings(e.relid)) THEN
      kind := 'coverage_capture_modified';
      object := 'pgaudit_kit.capture_' || e.relid;
      problem := pg_catalog.format('capture function of %s is not the one the kit generates (body or pinned '
                                   'settings): writes may go unrecorded or be recorded differently', v_name);
      RETURN NEXT;
    END IF;
    v_expected := CASE WHEN e.capture_mode = 'statement'
                       THEN ARRAY['pgaudit_kit_capture_insert', 'pgaudit_kit_capture_update', 'pgaudit_kit_capture_delete']
                       ELSE ARRAY['pgaudit_kit_capture_row'] END || ARRAY['pgaudit_kit_capture_truncate'];
    -- the table itself, then each partition: its row-trigger clone and its own TRUNCATE trigger
    FOR t IN
      SELECT x.rel, x.tgname, tr.tgenabled, tr.tgfoid,
             -- the trigger as install_capture_triggers creates it: timing, events and level (tgtype bits: 1 row,
             -- 2 before, 4 insert, 8 delete, 16 update, 32 truncate), no WHEN condition, no column list, no
             -- arguments, not a constraint trigger, the transition tables capture reads. Dropped and created
             -- anew in one transaction, a trigger of that name could otherwise fire on fewer writes or none.
             tr.tgtype IS DISTINCT FROM CASE x.tgname WHEN 'pgaudit_kit_capture_row' THEN 29
                                                      WHEN 'pgaudit_kit_capture_insert' THEN 4
                                                      WHEN 'pgaudit_kit_capture_update' THEN 16
                                                      WHEN 'pgaudit_kit_capture_delete' THEN 8
                                                      WHEN 'pgaudit_kit_capture_truncate' THEN 34 END
             OR tr.tgqual IS NOT NULL OR tr.tgnargs <> 0 OR tr.tgconstraint <> 0
             OR pg_catalog.cardinality(tr.tgattr::pg_catalog.int2[]) <> 0
             OR tr.tgoldtable IS DISTINCT FROM CASE WHEN x.tgname IN ('pgaudit_kit_capture_update',
                                                                      'pgaudit_kit_capture_delete')
                                                    THEN 'pgaudit_kit_old' END
             OR tr.tgnewtable IS DISTINCT FROM CASE WHEN x.tgname IN ('pgaudit_kit_capture_insert',
                                                                      'pgaudit_kit_capture_update')
                                                    THEN 'pgaudit_kit_new' END AS reshaped
        FROM (SELECT e.relid::regclass AS rel, n AS tgname FROM pg_catalog.unnest(v_expected) n
              UNION ALL
              SELECT p.relid, n FROM pg_catalog.pg_partition_tree(e.relid) p
                     CROSS JOIN pg_catalog.unnest(ARRAY['pgaudit_kit_capture_row', 'pgaudit_kit_capture_truncate']) n
               WHERE p.relid OPERATOR(pg_catalog.<>) e.relid::regclass AND e.capture_mode = 'row') x
        LEFT JOIN pg_catalog.pg_trigger tr ON tr.tgrelid = x.rel AND tr.tgname = x.tgname
       ORDER BY x.rel::oid, x.tgname
    LOOP
      kind := 'coverage_trigger';
      object := t.rel::text;
      IF t.tgenabled IS NULL THEN
        problem := pg_catalog.format('trigger %s on %s is missing', t.tgname, t.rel);
        RETURN NEXT;
      ELSIF t.tgenabled <> 'A' THEN
        problem := pg_catalog.format('trigger %s on %s is not enabled ALWAYS (state %s)', t.tgname, t.rel, t.tgenabled);
        RETURN NEXT;
      ELSIF v_fn IS NOT NULL AND t.tgfoid <> v_fn THEN
        problem := pg_catalog.format('trigger %s on %s does not call the table''s capture function', t.tgname, t.rel);
        RETURN NEXT;
      ELSIF t.reshaped THEN
        problem := pg_catalog.format('trigger %s on %s is not the one the kit creates (its timing, events, WHEN '
                                     'condition, column list or transition tables differ): writes may go unrecorded',
                                     t.tgname, t.rel);
        RETURN NEXT;
      END IF;
    END LOOP;
  END LOOP;

  FOR t IN
    SELECT x.rel, x.tgname, tr.tgenabled
      FROM (SELECT pg_catalog.to_regclass('pgaudit_kit.' || r) AS rel, 'pgaudit_kit_guard' AS tgname
              FROM pg_catalog.unnest(ARRAY['install', 'transaction', 'event', 'event_chunk', 'block', 'checkpoint',
                                           'maintenance', 'lockdown_event', 'redaction_key', 'enrolled_table',
                                           'auto_enrol_schema', 'retention', 'retirement']) r
            UNION ALL SELECT 'pgaudit_kit.event_chunk'::regclass, 'pgaudit_kit_chunk_loss'
            UNION ALL SELECT pg_catalog.to_regclass('pgaudit_kit.' || r), 'pgaudit_kit_retire_only'
              FROM pg_catalog.unnest(ARRAY['transaction', 'event', 'block', 'checkpoint']) r
            -- each partition of event guards itself (a statement naming it fires no trigger of its parent)
            UNION ALL SELECT p.partition, n FROM pgaudit_kit.event_partitions() p
                      CROSS JOIN pg_catalog.unnest(ARRAY['pgaudit_kit_guard', 'pgaudit_kit_retire_only']) n
            UNION ALL SELECT 'pgaudit_kit.transaction'::regclass, 'pgaudit_kit_seal_at_commit'
            UNION ALL SELECT 'pgaudit_kit.pending_check'::regclass, 'pgaudit_kit_check_invariants') x
      LEFT JOIN pg_catalog.pg_trigger tr ON tr.tgrelid = x.rel AND tr.tgname = x.tgname
     WHERE tr.tgenabled IS DISTINCT FROM 'A'
  LOOP
    kind := CASE WHEN t.tgname = 'pgaudit_kit_seal_at_commit' THEN 'coverage_sealing' ELSE 'coverage_guard' END;
    object := COALESCE(t.rel::text, 'pgaudit_kit');
    problem := pg_catalog.format('trigger %s on %s is %s', t.tgname, object,
                                 CASE WHEN t.tgenabled IS NULL THEN 'missing' ELSE 'not enabled ALWAYS' END);
    RETURN NEXT;
  END LOOP;

  -- nothing may hang on the kit's tables but the kit's own triggers: a rule (DO INSTEAD NOTHING), a
  -- trigger or row-level security could silently swallow or alter what capture writes
  FOR t IN
    SELECT c.oid::regclass AS rel, x.what
      FROM pg_catalog.pg_class c
      CROSS JOIN LATERAL (
        SELECT pg_catalog.format('rule %I', r.rulename) AS what FROM pg_catalog.pg_rewrite r
         WHERE r.ev_class = c.oid AND c.relkind <> 'v'
        UNION ALL
        SELECT pg_catalog.format('trigger %I', tr.tgname) FROM pg_catalog.pg_trigger tr
         WHERE tr.tgrelid = c.oid AND NOT tr.tgisinternal
           AND NOT (tr.tgname::text LIKE 'pgaudit\_kit\_%'  -- the kit's own: named so, calling a kit function
                    AND (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = tr.tgfoid) = c.relnamespace)
        UNION ALL
        SELECT pg_catalog.format('policy %I', p.polname) FROM pg_catalog.pg_policy p
         WHERE p.polrelid = c.oid
           AND NOT (p.polname = 'pgaudit_kit_review' AND p.polcmd = 'r' AND p.polpermissive
                    AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) = 'true'
                    AND c.relname NOT IN ('redaction_key', 'pending_check')
                    AND (SELECT pg_catalog.array_agg(r.rolname::text ORDER BY r.rolname) FROM pg_catalog.pg_roles r
                          WHERE r.oid = ANY (p.polroles)) = ARRAY['pgaudit_kit_admin', 'pgaudit_kit_reader'])
        UNION ALL
        SELECT 'FORCE ROW LEVEL SECURITY' WHERE c.relforcerowsecurity
        UNION ALL
        SELECT 'switched-off row-level security' WHERE NOT c.relrowsecurity AND c.relname IN (
            'install', 'transaction', 'event', 'event_chunk', 'block', 'checkpoint', 'maintenance', 'lockdown_event',
            'redaction_key',
            'enrolled_table', 'auto_enrol_schema', 'pending_check')
           OR NOT c.relrowsecurity AND c.relispartition
              AND pg_catalog.pg_partition_root(c.oid) = 'pgaudit_kit.event'::regclass) x
     WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'p', 'v')
     ORDER BY 1, 2
  LOOP
    kind := 'coverage_guard';
    object := t.rel::text;
    problem := pg_catalog.format('%s on %s is not the kit''s: it could swallow or alter what capture writes', t.what, t.rel);
    RETURN NEXT;
  END LOOP;

  -- a table in the kit's schema is one of the kit's or a partition of pgaudit_kit.event: anything else is a partition
  -- detached behind the kit's back (its events are gone from the log) or a table slipped into the schema
  FOR t IN
    SELECT c.oid::regclass AS rel FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'p', 'f')
       AND c.relname NOT IN ('install', 'transaction', 'event', 'event_chunk', 'block', 'checkpoint', 'maintenance',
                             'lockdown_event', 'redaction_key', 'enrolled_table', 'auto_enrol_schema', 'pending_check',
                             'retention', 'retirement', 'alembic_version')
       AND NOT (c.relispartition AND pg_catalog.pg_partition_root(c.oid) = 'pgaudit_kit.event'::regclass
                AND c.relkind = 'r')
     ORDER BY 1
  LOOP
    kind := 'coverage_guard';
    object := t.rel::text;
    problem := pg_catalog.format('%s is not a table of the kit: a partition of pgaudit_kit.event detached from it (its '
                                'events are gone from the log) or a table put in the kit''s schema', t.rel);
    RETURN NEXT;
  END LOOP;

  FOR t IN
    SELECT x.name, et.evtenabled
      FROM pg_catalog.unnest(ARRAY['pgaudit_kit_ddl_command_end', 'pgaudit_kit_check_ddl', 'pgaudit_kit_guard_drop',
                                   'pgaudit_kit_note_objects', 'pgaudit_kit_refuse_guard_drop', 'pgaudit_kit_sql_drop']) x(name)
      LEFT JOIN pg_catalog.pg_event_trigger et ON et.evtname = x.name
     WHERE et.evtenabled IS DISTINCT FROM 'A'
  LOOP
    kind := 'coverage_trigger';
    object := t.name;
    problem := pg_catalog.format('event trigger %s is %s: DDL is not checked', t.name,
                                 CASE WHEN t.evtenabled IS NULL THEN 'missing' ELSE 'not enabled ALWAYS' END);
    RETURN NEXT;
  END LOOP;

  -- whoever can become the kit's owner can write history: nobody may log in as it or be a member of it
  FOR t IN
    SELECT r.rolname AS name, 'may log in' AS what FROM pg_catalog.pg_roles r
     WHERE r.rolname = 'pgaudit_kit_owner' AND r.rolcanlogin
    UNION ALL
    SELECT m.member::regrole::text, 'is a member of it' FROM pg_catalog.pg_auth_members m
     WHERE m.roleid = 'pgaudit_kit_owner'::regrole
  LOOP
    kind := 'coverage_privilege';
    object := 'pgaudit_kit_owner';
    problem := pg_catalog.format('%s %s: whoever acts as the kit''s owner can write audit history', t.name, t.what);
    RETURN NEXT;
  END LOOP;

  -- row-level security keeps pg_write_all_data out of the kit's tables, except for a role that bypasses it
  FOR t IN
    SELECT r.rolname AS name FROM pg_catalog.pg_roles r
     WHERE r.rolbypassrls AND NOT r.rolsuper AND r.rolname <> 'pgaudit_kit_owner'
       AND pg_catalog.has_table_privilege(r.oid, 'pgaudit_kit.event', 'INSERT')
     ORDER BY 1
  LOOP
    kind := 'coverage_privilege';
    object := t.name;
    problem := pg_catalog.format('%s bypasses row-level security and may INSERT into pgaudit_kit.event: it can forge '
                                 'audit history', t.name);
    RETURN NEXT;
  END LOOP;

  -- a capture function records only its own table (and its partitions): on any other table, a trigger
  -- calling it would forge that table's history (owners of audited tables hold EXECUTE on it so that
  -- they can create partitions)
  FOR t IN
    SELECT tr.tgname, tr.tgrelid::regclass AS rel, p.proname
      FROM pg_catalog.pg_trigger tr JOIN pg_catalog.pg_proc p ON p.oid = tr.tgfoid
     WHERE p.pronamespace = 'pgaudit_kit'::regnamespace AND p.proname::text ~ '^capture_[0-9]+$'
       AND pg_catalog.substr(p.proname::text, 9)::oid
           NOT IN (tr.tgrelid, COALESCE(pg_catalog.pg_partition_root(tr.tgrelid), tr.tgrelid))
       -- after a dump/restore the table has a new OID and its triggers still call the old function: that
       -- is reported above (the enrolled table "no longer exists") and install re-binds it
       AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.substr(p.proname::text, 9)::oid)
  LOOP
    kind := 'coverage_trigger';
    object := t.rel::text;
    problem := pg_catalog.format('trigger %s on %s calls pgaudit_kit.%s(), the capture function of another table: '
                                 'it forges that table''s history', t.tgname, t.rel, t.proname);
    RETURN NEXT;
  END LOOP;

  -- the schemas: only the kit's roles may use pgaudit_kit, nobody but the owner create in either
  FOR t IN
    SELECT n.nspname::text AS nsp, a.grantee, a.privilege_type
      FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
     WHERE n.nspname IN ('pgaudit_kit', 'pgaudit_kit_guard') AND a.grantee <> n.nspowner
       AND NOT (n.nspname = 'pgaudit_kit' AND a.privilege_type = 'USAGE'
                AND a.grantee IN (SELECT r.oid FROM pg_catalog.pg_roles r
                                   WHERE r.rolname IN ('pgaudit_kit_admin', 'pgaudit_kit_reader')))
  LOOP
    kind := 'coverage_privilege';
    object := t.nsp;
    problem := pg_catalog.format('%s holds %s on schema %s', CASE WHEN t.grantee = 0 THEN 'PUBLIC'
                                 ELSE t.grantee::regrole::text END, t.privilege_type, t.nsp);
    RETURN NEXT;
  END LOOP;

  -- the kit's functions: EXECUTE only for the kit's roles; PUBLIC only where the function runs as its
  -- caller or is harmless to anyone (the capture functions are triggers: they cannot be called directly)
  FOR t IN
    SELECT p.oid::regprocedure::text AS fn, a.grantee
      FROM pg_catalog.pg_proc p CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
     WHERE p.pronamespace IN (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname IN ('pgaudit_kit', 'pgaudit_kit_guard'))
       AND a.grantee <> p.proowner
       AND NOT (a.grantee IN (SELECT r.oid FROM pg_catalog.pg_roles r
                               WHERE r.rolname IN ('pgaudit_kit_owner', 'pgaudit_kit_admin', 'pgaudit_kit_reader')))
       AND NOT (a.grantee = 0 AND (NOT p.prosecdef
                                   OR p.proname IN ('in_maintenance', 'installed_by_this_transaction', 'record_role_change')))
       AND p.proname::text !~ '^capture_[0-9]+$'  -- owners of audited tables may hold EXECUTE: see below
     ORDER BY 1
  LOOP
    kind := 'coverage_privilege';
    object := t.fn;
    problem := pg_catalog.format('%s may execute %s, a function of the kit''s', CASE WHEN t.grantee = 0 THEN 'PUBLIC'
                                 ELSE t.grantee::regrole::text END, t.fn);
    RETURN NEXT;
  END LOOP;

  FOR t IN
    SELECT c.oid::regclass AS rel, a.privilege_type, a.grantee
      FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
     WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relkind IN ('r', 'v', 'p', 'S')
       AND c.relname <> 'alembic_version' AND a.grantee <> c.relowner
       AND (a.privilege_type <> 'SELECT' OR c.relname = 'redaction_key'
            OR a.grantee NOT IN (SELECT r.oid FROM pg_catalog.pg_roles r
                                  WHERE r.rolname IN ('pgaudit_kit_admin', 'pgaudit_kit_reader')))
     ORDER BY 1, 2
  LOOP
    kind := 'coverage_privilege';
    object := t.rel::text;
    problem := pg_catalog.format('%s holds %s on %s: only the kit owner writes the kit''s tables and only its '
                                 'roles read them', CASE WHEN t.grantee = 0 THEN 'PUBLIC' ELSE t.grantee::regrole::text END,
                                 t.privilege_type, t.rel);
    RETURN NEXT;
  END LOOP;

  -- capture and reconcile render each recorded column with its ::text cast, as the kit's owner: a cast to
  -- text by a function a non-superuser owns (the owner of a type may create one) would run that function
  -- with the owner's rights (read the redaction key, write history) and decide what is recorded
  FOR t IN
    WITH RECURSIVE col AS (
      SELECT c.oid AS relid, a.attname::text AS attname, a.atttypid AS typid
        FROM pgaudit_kit.enrolled_table et
        CROSS JOIN LATERAL (SELECT et.relid UNION SELECT p.relid FROM pg_catalog.pg_partition_tree(et.relid) p) r
        JOIN pg_catalog.pg_class c ON c.oid = r.relid
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE NOT a.attname::text = ANY (et.excluded_columns)
      UNION  -- through domains down to the base type: a cast from any of them is the one to fear
      SELECT col.relid, col.attname, ty.typbasetype
        FROM col JOIN pg_catalog.pg_type ty ON ty.oid = col.typid AND ty.typtype = 'd')
    SELECT DISTINCT col.relid::regclass::text AS rel, col.attname, k.castsource::regtype::text AS source,
           k.castfunc::regprocedure::text AS func
      FROM col
      JOIN pg_catalog.pg_cast k ON k.castsource = col.typid AND k.casttarget = 'pg_catalog.text'::pg_catalog.regtype
                                AND k.castmethod = 'f'
      JOIN pg_catalog.pg_proc f ON f.oid = k.castfunc
      JOIN pg_catalog.pg_roles o ON o.oid = f.proowner
     WHERE NOT o.rolsuper
     ORDER BY 1, 2
  LOOP
    kind := 'coverage_cast';
    object := t.rel;
    problem := pg_catalog.format('the cast of %s to text runs %s, which a non-superuser owns: capture of column %I '
                                 'of %s would run it with the kit''s rights (drop the cast)', t.source, t.func,
                                 t.attname, t.rel);
    RETURN NEXT;
  END LOOP;

  -- a chunk capture cannot have written: sealing stops at it, review leaves its events out
  FOR t IN
    SELECT c.xid, c.id, c.schema_name, c.table_name, pgaudit_kit.chunk_problem(c) AS what
      FROM pgaudit_kit.event_chunk c WHERE pgaudit_kit.chunk_problem(c) IS NOT NULL ORDER BY c.xid, c.id
  LOOP
    kind := 'coverage_sealing';
    object := 'pgaudit_kit.event_chunk';
    problem := pg_catalog.format('the chunk of transaction %s from event %s (%I.%I) is malformed (%s): its events '
                                 'cannot be sealed nor shown, and nothing recorded after it is sealed', t.xid, t.id,
                                 t.schema_name, t.table_name, t.what);
    RETURN NEXT;
  END LOOP;
END
$fn$;
ALTER FUNCTION pgaudit_kit.invariant_problems() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.invariant_problems() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.invariant_problems() IS
    'pgaudit-kit: what breaks capture or the kit''s guards now (empty when intact)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.invariant_problems() TO pgaudit_kit_admin, pgaudit_kit_reader;
