-- pgaudit-kit: pgaudit_kit.enable_table(table, excluded, redacted, truncate, capture_statement, capture_mode, reason)
-- -> boolean
-- Enrols a table (or changes its options): validates everything first, then stores the options,
-- generates the capture function and installs its triggers, all in the caller's transaction. Returns
-- true when something changed (and records that as a control event, with the options before and the reason
-- given), false when already enrolled with the same options. Inheritance children are enrolled with the same
-- options. Enrolment never weakens silently: options that would record in clear a column of the table that
-- was excluded or redacted are refused without a reason, whoever calls.
-- Capture mode: 'statement' (statement triggers with transition tables: set-based, the cheaper per row of
-- a multi-row statement) or 'row' (row triggers: the cheaper per single-row statement, bench/RESULTS.md);
-- NULL keeps the table's mode (statement for a new enrolment), so refreshes and re-binds keep it.
-- Partitioned tables and inheritance trees are always captured by row triggers (see below).
-- SECURITY DEFINER as the installing superuser: creating triggers on a user's table needs its owner's
-- rights; EXECUTE is granted to pgaudit_kit_admin only.
CREATE OR REPLACE FUNCTION pgaudit_kit.enable_table(p_table regclass,
                                         p_excluded_columns text[] DEFAULT '{}',
                                         p_redacted_columns text[] DEFAULT '{}',
                                         p_truncate text DEFAULT 'capture',
                                         p_capture_statement boolean DEFAULT false,
                                         p_capture_mode text DEFAULT NULL,
                                         p_reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_rel record;
  v_pk text[];
  v_bad text;
  v_prev pgaudit_kit.enrolled_table%ROWTYPE;
  v_mode text;
  v_changed boolean;
  v_child oid;
  v_options jsonb;
  v_clear text;
BEGIN
  IF p_table IS NULL THEN
    RAISE EXCEPTION 'pgaudit-kit: no table given' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  p_excluded_columns := COALESCE(p_excluded_columns, '{}');
  p_redacted_columns := COALESCE(p_redacted_columns, '{}');
  SELECT c.oid, c.relkind, c.relispartition, c.relpersistence, n.nspname::text AS nspname, c.relname::text AS relname
    INTO v_rel
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = p_table;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgaudit-kit: relation with OID % does not exist', p_table::oid USING ERRCODE = 'undefined_table';
  END IF;
  IF v_rel.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'pgaudit-kit: % is not a table (relkind %); only tables and partitioned tables can be enrolled',
      p_table, v_rel.relkind USING ERRCODE = 'wrong_object_type';
  END IF;
  IF v_rel.nspname IN ('pgaudit_kit', 'pg_catalog', 'information_schema') OR v_rel.nspname LIKE 'pg\_toast%' THEN
    RAISE EXCEPTION 'pgaudit-kit: % is a system or kit table and cannot be enrolled', p_table
      USING ERRCODE = 'wrong_object_type';
  END IF;
  IF v_rel.relpersistence = 't' THEN
    RAISE EXCEPTION 'pgaudit-kit: % is a temporary table and cannot be enrolled', p_table
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF v_rel.relispartition THEN
    RAISE EXCEPTION 'pgaudit-kit: % is a partition; enrol its partitioned table % instead',
      p_table, pg_catalog.pg_partition_root(p_table) USING ERRCODE = 'wrong_object_type';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ') INTO v_bad
    FROM pg_catalog.unnest(p_excluded_columns || p_redacted_columns) AS c
   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = p_table AND a.attname::text = c AND a.attnum > 0 AND NOT a.attisdropped);
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION 'pgaudit-kit: table % has no column %', p_table, v_bad USING ERRCODE = 'undefined_column';
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = p_table AND a.attname = 'pgaudit_kit_rn'
               AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'pgaudit-kit: % has a column named pgaudit_kit_rn, a name the kit reserves', p_table
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF p_excluded_columns && p_redacted_columns THEN
    RAISE EXCEPTION 'pgaudit-kit: a column cannot be both excluded and redacted' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_capture_mode IS NOT NULL AND p_capture_mode NOT IN ('statement', 'row') THEN
    RAISE EXCEPTION 'pgaudit-kit: capture mode must be statement or row, not %', p_capture_mode
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_truncate IS NULL OR p_truncate NOT IN ('capture', 'refuse') THEN
    RAISE EXCEPTION 'pgaudit-kit: truncate policy must be capture or refuse, not %', p_truncate
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.i) INTO v_pk
    FROM pg_catalog.pg_index x
    CROSS JOIN LATERAL pg_catalog.unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, i)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
   WHERE x.indrelid = p_table AND x.indisprimary;
  IF v_pk && (p_excluded_columns || p_redacted_columns) THEN
    RAISE EXCEPTION 'pgaudit-kit: primary key columns of % cannot be excluded or redacted (they identify the row)', p_table
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- Transition tables are not allowed on inheritance children, and on an inheritance parent they
  -- would also hold the children's rows (recorded again by the children); partitioned tables need the
  -- partition of each row, which only row triggers see.
  SELECT * INTO v_prev FROM pgaudit_kit.enrolled_table WHERE relid = p_table;
  -- a column of the table (as it is now: a renamed or dropped one is not) that the previous options kept out
  -- of the log in clear and these would record in clear
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY c) INTO v_clear
    FROM pg_catalog.unnest(v_prev.excluded_columns || v_prev.redacted_columns) AS c
   WHERE NOT c = ANY (p_excluded_columns || p_redacted_columns)
     AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = p_table AND a.attname::text = c AND a.attnum > 0 AND NOT a.attisdropped);
  IF v_clear IS NOT NULL AND (p_reason IS NULL OR pg_catalog.btrim(p_reason) = '') THEN
    RAISE EXCEPTION 'pgaudit-kit: these options would record % of % in clear from now on: that needs a reason',
      v_clear, p_table USING ERRCODE = 'invalid_parameter_value',
      HINT = 'pgaudit-kit enable TABLE --unredact-columns COL (or --include-columns COL) --reason TEXT (recorded)';
  END IF;
  v_mode := CASE WHEN v_rel.relkind = 'p'
                   OR EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid = p_table OR i.inhparent = p_table)
                 THEN 'row' ELSE COALESCE(p_capture_mode, v_prev.capture_mode, 'statement') END;
  v_changed := v_prev.relid IS NULL
            OR v_prev.capture_mode IS DISTINCT FROM v_mode
            OR v_prev.excluded_columns IS DISTINCT FROM p_excluded_columns
            OR v_prev.redacted_columns IS DISTINCT FROM p_redacted_columns
            OR v_prev.truncate_policy IS DISTINCT FROM p_truncate
            OR v_prev.capture_statement IS DISTINCT FROM p_capture_statement;
  INSERT INTO pgaudit_kit.enrolled_table AS e (relid, schema_name, table_name, capture_mode, pk_columns,
      excluded_columns, redacted_columns, truncate_policy, capture_statement, shape_signature)
  VALUES (p_table, v_rel.nspname, v_rel.relname, v_mode, v_pk, p_excluded_columns, p_redacted_columns,
          p_truncate, p_capture_statement, pgaudit_kit.table_shape_signature(p_table))
  ON CONFLICT (relid) DO UPDATE SET
      schema_name = excluded.schema_name, table_name = excluded.table_name, capture_mode = excluded.capture_mode,
      pk_columns = excluded.pk_columns, excluded_columns = excluded.excluded_columns,
      redacted_columns = excluded.redacted_columns, truncate_policy = excluded.truncate_policy,
      capture_statement = excluded.capture_statement, shape_signature = excluded.shape_signature;

  EXECUTE pgaudit_kit.capture_function_source(p_table);
  EXECUTE pg_catalog.format('ALTER FUNCTION pgaudit_kit.%I() OWNER TO pgaudit_kit_owner', 'capture_' || p_table::oid);
  EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION pgaudit_kit.%I() FROM PUBLIC', 'capture_' || p_table::oid);
  PERFORM pgaudit_kit.install_capture_triggers(p_table);

  v_options := pg_catalog.jsonb_build_object('excluded_columns', p_excluded_columns,
      'redacted_columns', p_redacted_columns, 'truncate', p_truncate, 'capture_statement', p_capture_statement,
      'capture_mode', v_mode);
  IF v_changed THEN
    PERFORM pgaudit_kit.record_control_event(CASE WHEN v_prev.relid IS NULL THEN 'enable' ELSE 'options' END,
        p_table, v_rel.nspname, v_rel.relname, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
          'options', v_options, 'reason', p_reason,
          'previous', CASE WHEN v_prev.relid IS NOT NULL THEN pg_catalog.jsonb_build_object(
            'excluded_columns', v_prev.excluded_columns, 'redacted_columns', v_prev.redacted_columns,
            'truncate', v_prev.truncate_policy, 'capture_statement', v_prev.capture_statement,
            'capture_mode', v_prev.capture_mode) END)));
  END IF;

  FOR v_child IN SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = p_table AND NOT c.relispartition LOOP
    v_changed := pgaudit_kit.enable_table(v_child::regclass, p_excluded_columns, p_redacted_columns, p_truncate,
                                          p_capture_statement, p_capture_mode, p_reason) OR v_changed;
  END LOOP;
  RETURN v_changed;
END
$fn$;
REVOKE ALL ON FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean, text, text) IS
    'pgaudit-kit: enrol a table (or change its options); idempotent, transactional, recorded';
GRANT EXECUTE ON FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean, text, text) TO pgaudit_kit_admin;
GRANT EXECUTE ON FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean, text, text) TO pgaudit_kit_owner;
