-- pgaudit-kit: pgaudit_kit.capture_function_source -- CREATE FUNCTION text of the capture function for an enrolled table
CREATE OR REPLACE FUNCTION pgaudit_kit.capture_function_source(p_relid oid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $gen$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_cols text[];
  v_bpchar text[];
  v_by_value text[];  -- columns an UPDATE compares as values
  v_has_redacted boolean;
  v_key_new text;  -- key expressions used inside static statements
  v_stmt text;
  v_cols_list text := 'xid, statement_ts, op, relid, schema_name, table_name, partition_name, pk, row_data, old_values, statement';
  v_partition text;
  v_target text;
  v_body text;
  v_first text;
  v_truncate text;
  v_chunked boolean;  -- statements of many rows are recorded as chunks (pgaudit_kit.event_chunk)
  v_chunk_cols text := 'xid, statement_ts, op, relid, schema_name, table_name, partition_name, columns, pk_columns, '
                       'id, n_events, pks, images, old_images, statement';
  v_chunk_fixed text;  -- columns and pk_columns
  v_numbered text;
  v_chunk_insert text;
BEGIN
  SELECT * INTO STRICT cfg FROM pgaudit_kit.enrolled_table WHERE relid = p_relid;
  SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) INTO v_cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped
     AND NOT (a.attname::text = ANY (cfg.excluded_columns));
  v_cols := COALESCE(v_cols, '{}');
  v_bpchar := pgaudit_kit.columns_of_type(p_relid, '{pg_catalog.bpchar}');
  -- Columns an UPDATE compares as values, not as text: types whose equality holds exactly when their text output
  -- (under capture's pinned settings) is the same, and that have no collation. Comparing the text costs two casts
  -- per column, each looked up at every captured row (27 k instructions of a tpcb-like transaction's 1,341 k
  -- for its nine integer columns). Not numeric (1.0 = 1.00), floats (0 = -0), interval ('1 day' = '24 hours'),
  -- bpchar (equal up to trailing blanks), jsonb (numbers as numeric), nor any collatable type (text and varchar are
  -- compared as text anyway, where a cast to text costs nothing).
  v_by_value := pgaudit_kit.columns_of_type(p_relid,
    '{pg_catalog.int2,pg_catalog.int4,pg_catalog.int8,pg_catalog.oid,pg_catalog.bool,pg_catalog.bytea,pg_catalog.uuid,'
    'pg_catalog.date,pg_catalog.time,pg_catalog.timestamp,pg_catalog.timestamptz}');
  v_has_redacted := pg_catalog.cardinality(cfg.redacted_columns) > 0;
  v_stmt := CASE WHEN cfg.capture_statement THEN 'pg_catalog.current_query()' ELSE 'NULL' END;
  -- The partition that held the row: only a partitioned table's trigger fires for other relations (its
  -- partitions'); for any other table, TG_RELID is the table itself and the name is NULL without asking.
  v_partition := CASE WHEN (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = p_relid) = 'p'
    THEN pg_catalog.format('CASE WHEN TG_RELID OPERATOR(pg_catalog.<>) %s::oid THEN TG_RELID::regclass::text END', p_relid)
    ELSE 'NULL::text' END;
  v_target := pg_catalog.format('%s::oid, %L, %L', p_relid, cfg.schema_name, cfg.table_name);
  -- a chunk holds at least one recorded column (an array of empty rows cannot be built)
  v_chunked := pg_catalog.cardinality(v_cols) > 0;
  v_chunk_fixed := pg_catalog.format('%L::text[], %s', v_cols::text,
                                     COALESCE(pg_catalog.format('%L::text[]', cfg.pk_columns::text), 'NULL'));
  -- a transition table's rows, each with its row number (%1$s alias, %2$s table)
  v_numbered := $c$(SELECT pg_catalog.row_number() OVER () AS pgaudit_kit_rn, %1$s.* FROM %2$s %1$s) %1$s$c$;
  -- one statement's chunks; the statement's own parts are filled in here, the parts of an operation left as
  -- %1$s op, %2$s transition table probed, %3$s alias, %4$s rows, %5$s keys, %6$s values, %7$s old values.
  -- A chunk's events are numbered from one value of the event identity, which steps by 1,024 (the largest
  -- chunk): one call for 1,024 events instead of one each, and they come after the events of earlier
  -- statements and before those of later ones, as one by one.
  v_chunk_insert := pg_catalog.format($c$
    IF EXISTS (SELECT FROM %%2$s OFFSET 31) THEN
      INSERT INTO pgaudit_kit.event_chunk (%1$s)
      SELECT v_xid, v_ts, %%1$L, %2$s, NULL, %3$s, pg_catalog.nextval('pgaudit_kit.event_id_seq'::regclass),
             pg_catalog.count(*)::integer, %%5$s, pg_catalog.array_agg(%%6$s), %%7$s, %4$s
        FROM %%4$s
       GROUP BY (%%3$s.pgaudit_kit_rn OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) 1024
       -- in chunk order: the identity is called after the sort, so the chunks' events follow the rows' order
       ORDER BY (%%3$s.pgaudit_kit_rn OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) 1024;
    ELSE$c$, v_chunk_cols, v_target, v_chunk_fixed, v_stmt);

  IF cfg.capture_mode = 'statement' THEN
    v_body := pg_catalog.format($t$
  IF TG_OP = 'INSERT' THEN%9$s
    INSERT INTO pgaudit_kit.event (%1$s)
    SELECT v_xid, v_ts, 'I', %2$s, NULL, %3$s, %4$s, NULL, %5$s
      FROM pgaudit_kit_new n;%12$s
  ELSIF TG_OP = 'UPDATE' THEN%10$s
    -- Transition tables list old and new versions of the updated rows in the same order.
    INSERT INTO pgaudit_kit.event (%1$s)
    SELECT v_xid, v_ts, 'U', %2$s, NULL, %3$s, %4$s, %6$s, %5$s
      FROM (SELECT pg_catalog.row_number() OVER () AS pgaudit_kit_rn, o.* FROM pgaudit_kit_old o) o
      JOIN (SELECT pg_catalog.row_number() OVER () AS pgaudit_kit_rn, n.* FROM pgaudit_kit_new n) n
        ON n.pgaudit_kit_rn OPERATOR(pg_catalog.=) o.pgaudit_kit_rn;%12$s
  ELSIF TG_OP = 'DELETE' THEN%11$s
    INSERT INTO pgaudit_kit.event (%1$s)
    SELECT v_xid, v_ts, 'D', %2$s, NULL, %7$s, %8$s, NULL, %5$s
      FROM pgaudit_kit_old o;%12$s$t$,
      v_cols_list, v_target,
      pgaudit_kit.pk_sql(cfg.pk_columns, v_bpchar, 'n'),
      pgaudit_kit.image_sql(v_cols, v_bpchar, cfg.redacted_columns, 'n', 'v_ipad', 'v_opad'),
      v_stmt,
      pgaudit_kit.old_values_sql(v_cols, v_bpchar, v_by_value, cfg.redacted_columns, 'o', 'n', 'v_ipad', 'v_opad'),
      pgaudit_kit.pk_sql(cfg.pk_columns, v_bpchar, 'o'),
      pgaudit_kit.image_sql(v_cols, v_bpchar, cfg.redacted_columns, 'o', 'v_ipad', 'v_opad'),
      -- a statement of 32 rows or more: chunks of up to 1,024 rows (op, transition table probed, alias, rows,
      -- keys, values, old values)
      CASE WHEN v_chunked THEN pg_catalog.format(v_chunk_insert, 'I', 'pgaudit_kit_new', 'n',
          pg_catalog.format(v_numbered, 'n', 'pgaudit_kit_new'), pgaudit_kit.chunk_keys_sql(cfg.pk_columns, v_bpchar, 'n'),
          pgaudit_kit.values_sql(v_cols, v_bpchar, cfg.redacted_columns, 'n', 'v_ipad', 'v_opad'), 'NULL') ELSE '' END,
      CASE WHEN v_chunked THEN pg_catalog.format(v_chunk_insert, 'U', 'pgaudit_kit_new', 'n',
          pg_catalog.format(v_numbered, 'n', 'pgaudit_kit_new') || ' JOIN '
          || pg_catalog.format(v_numbered, 'o', 'pgaudit_kit_old')
          || ' ON o.pgaudit_kit_rn OPERATOR(pg_catalog.=) n.pgaudit_kit_rn',
          pgaudit_kit.chunk_keys_sql(cfg.pk_columns, v_bpchar, 'n'),
          pgaudit_kit.values_sql(v_cols, v_bpchar, cfg.redacted_columns, 'n', 'v_ipad', 'v_opad'),
          pg_catalog.format('pg_catalog.array_agg(%s)',
                            pgaudit_kit.values_sql(v_cols, v_bpchar, cfg.redacted_columns, 'o', 'v_ipad', 'v_opad')))
        ELSE '' END,
      CASE WHEN v_chunked THEN pg_catalog.format(v_chunk_insert, 'D', 'pgaudit_kit_old', 'o',
          pg_catalog.format(v_numbered, 'o', 'pgaudit_kit_old'), pgaudit_kit.chunk_keys_sql(cfg.pk_columns, v_bpchar, 'o'),
          pgaudit_kit.values_sql(v_cols, v_bpchar, cfg.redacted_columns, 'o', 'v_ipad', 'v_opad'), 'NULL') ELSE '' END,
      CASE WHEN v_chunked THEN E'\n    END IF;' ELSE '' END);
  ELSE
    v_body := pg_catalog.format($t$
  IF TG_OP = 'INSERT' THEN
    INSERT INTO pgaudit_kit.event (%1$s)
    VALUES (v_xid, v_ts, 'I', %2$s, %3$s, %4$s, %5$s, NULL, %6$s);
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO pgaudit_kit.event (%1$s)
    VALUES (v_xid, v_ts, 'U', %2$s, %3$s, %4$s, %5$s, %7$s, %6$s);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO pgaudit_kit.event (%1$s)
    VALUES (v_xid, v_ts, 'D', %2$s, %3$s, %8$s, %9$s, NULL, %6$s);$t$,
      v_cols_list, v_target, v_partition,
      pgaudit_kit.pk_sql(cfg.pk_columns, v_bpchar, 'NEW'),
      pgaudit_kit.image_sql(v_cols, v_bpchar, cfg.redacted_columns, 'NEW', 'v_ipad', 'v_opad'),
      v_stmt,
      pgaudit_kit.old_values_sql(v_cols, v_bpchar, v_by_value, cfg.redacted_columns, 'OLD', 'NEW', 'v_ipad', 'v_opad'),
      pgaudit_kit.pk_sql(cfg.pk_columns, v_bpchar, 'OLD'),
      pgaudit_kit.image_sql(v_cols, v_bpchar, cfg.redacted_columns, 'OLD', 'v_ipad', 'v_opad'));
  END IF;

  IF cfg.truncate_policy = 'refuse' THEN
    v_truncate := pg_catalog.format($t$
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: TRUNCATE of %%s is refused by its audit policy', %1$L),
      HINT = 'Delete the rows instead (each is recorded), or re-enrol the table with --truncate capture.';$t$,
      pg_catalog.format('%I.%I', cfg.schema_name, cfg.table_name));
  ELSE
    -- The trigger fires on each truncated table (every partition too), before its rows are gone; the
    -- relation is only known at run time, so this one statement is dynamic. Its rows go in chunks.
    v_truncate := pg_catalog.format($t$
    EXECUTE %1$L || TG_RELID::regclass::text || %4$L
      USING v_xid, v_ts, v_ipad, v_opad, %2$s, %3$s;$t$,
      CASE WHEN v_chunked THEN pg_catalog.format(
          'INSERT INTO pgaudit_kit.event_chunk (%s) SELECT $1, $2, ''T'', %s, $6, %s, '
          'pg_catalog.nextval(''pgaudit_kit.event_id_seq''::regclass), pg_catalog.count(*)::integer, %s, '
          'pg_catalog.array_agg(%s), NULL, $5 FROM (SELECT pg_catalog.row_number() OVER () AS pgaudit_kit_rn, r.* '
          'FROM ONLY ',
          v_chunk_cols, v_target, v_chunk_fixed, pgaudit_kit.chunk_keys_sql(cfg.pk_columns, v_bpchar, 'r'),
          pgaudit_kit.values_sql(v_cols, v_bpchar, cfg.redacted_columns, 'r', '$3', '$4'))
      ELSE pg_catalog.format('INSERT INTO pgaudit_kit.event (%s) SELECT $1, $2, ''T'', %s, $6, %s, %s, NULL, $5 FROM ONLY ',
          v_cols_list, v_target, pgaudit_kit.pk_sql(cfg.pk_columns, v_bpchar, 'r'),
          pgaudit_kit.image_sql(v_cols, v_bpchar, cfg.redacted_columns, 'r', '$3', '$4')) END,
      v_stmt, v_partition,
      CASE WHEN v_chunked
        THEN ' r) r GROUP BY (r.pgaudit_kit_rn OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) 1024 '
             'ORDER BY (r.pgaudit_kit_rn OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) 1024' ELSE ' r' END);
  END IF;

  -- The body runs in one of two forms: a transaction's first audited statement also writes the transaction's
  -- who/where row, in the same statement as its events (a data-modifying WITH: one statement for both);
  -- every later statement writes only its events.
  v_body := pg_catalog.replace(v_body, E'\n  ', E'\n    ');
  v_first := pg_catalog.replace(v_body, 'INSERT INTO pgaudit_kit.event',
                                'WITH pgaudit_kit_transaction AS ('
                                || pg_catalog.replace(pgaudit_kit.transaction_row_sql(), E'\n', E'\n    ')
                                || E')\n      INSERT INTO pgaudit_kit.event');
  RETURN pg_catalog.format($t$CREATE OR REPLACE FUNCTION pgaudit_kit.%1$I() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''%7$s
AS $capture$
#variable_conflict use_variable
-- pgaudit-kit capture v10 for %2$s (%3$s mode), generated by pgaudit_kit.capture_function_source. Do not edit:
-- verification compares this text with a fresh generation.
DECLARE
  v_xid xid8 := pg_catalog.pg_current_xact_id();
  v_ts timestamptz := pg_catalog.statement_timestamp();
  v_ipad bytea;
  v_opad bytea;
  v_recorded boolean;
BEGIN%4$s
  IF TG_OP = 'TRUNCATE' THEN
    IF NOT pgaudit_kit.recorded_xact_is(v_xid) THEN
      -- an assignment is a plain expression, PERFORM a query (an executor started and stopped)
      v_recorded := pgaudit_kit.record_transaction() IS NOT NULL;
    END IF;%5$s
  ELSIF pgaudit_kit.recorded_xact_is(v_xid) THEN%6$s
    END IF;
  ELSE
    -- the transaction's first audited write: refused during a lockdown; its statement writes the who/where row
    v_recorded := pgaudit_kit.check_lockdown();%8$s
    END IF;
    v_recorded := pgaudit_kit.mark_transaction_recorded();
  END IF;
  RETURN NULL;
END
$capture$$t$,
    'capture_' || p_relid, pg_catalog.format('%I.%I', cfg.schema_name, cfg.table_name), cfg.capture_mode,
    CASE WHEN v_has_redacted THEN '
  SELECT k.ipad, k.opad INTO STRICT v_ipad, v_opad FROM pgaudit_kit.redaction_key k;' ELSE '' END,
    v_truncate,
    v_body,
    (SELECT pg_catalog.string_agg(pg_catalog.format(' SET %I = %L', pg_catalog.split_part(u.c, '=', 1),
                                                    pg_catalog.substr(u.c, pg_catalog.strpos(u.c, '=') + 1)),
                                  '' ORDER BY u.i)
       FROM pg_catalog.unnest(pgaudit_kit.capture_settings(p_relid)) WITH ORDINALITY AS u(c, i)
      WHERE u.i > 1),
    v_first);
END
$gen$;
ALTER FUNCTION pgaudit_kit.capture_function_source(oid) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.capture_function_source(oid) IS
    'pgaudit-kit: CREATE FUNCTION text of the capture function for an enrolled table';
