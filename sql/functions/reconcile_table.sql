-- pgaudit-kit: pgaudit_kit.reconcile_table(oid) -> the live rows of an enrolled table that its recorded
-- history cannot explain: the trace of a write that bypassed capture (a superuser who disabled the
-- triggers, a restore of the table's data alone, ...).
--
-- The live rows are rendered by the expressions capture uses (pgaudit_kit.image_sql / pk_sql, the same
-- columns, bpchar handling and keyed digests of redacted columns) under the same fixed output settings,
-- so an unchanged row compares equal to its recorded image. Only history recorded since the table's
-- newest enrolment (op K, action enable or rebind) counts: before it, or during a gap in enrolment, the
-- log does not claim to be complete.
--
-- Tables with a primary key: the newest recorded event of each key (highest event id: row locks order
-- the writers of a row, so a later writer always records later; xid order is not commit order). An
-- UPDATE that changes the key also removes the row from its old key. Problems, one row each:
--   changed     the live row differs from the newest recorded image, on the columns both have (a column
--               added or dropped since, or one whose redaction was switched since, is not compared);
--   unrecorded  a live row whose newest recorded event removed it, or with no recorded event at all
--               unless it predates the enrolment (its xmin precedes the enrolling transaction);
--   missing     the newest recorded event is an INSERT or UPDATE, but there is no live row (not counted
--               when it was recorded in a partition that has since been detached or dropped).
-- Tables without one: a multiset comparison. Events replay as +1 for each recorded after-image and -1 for
-- each before-image (UPDATE, DELETE, TRUNCATE), projected onto the columns every replayed image and the
-- live rows have; the log explains a live count of (net + the fewest rows that existed at enrolment which
-- the replay and the surviving pre-enrolment rows require). A difference is one row per image:
-- unrecorded (live surplus) or missing (live deficit), row_count the size of the difference.
-- Last row: problem NULL, row_count = the number of live rows compared.
--
-- Reads every live row, as the kit owner (which has SELECT on enrolled tables, and BYPASSRLS), and
-- returns only problems: a reviewer needs no privilege on the table itself. The comparison runs in the
-- server (hash and merge joins and sorts spill to disk); the result is buffered by the server, never by
-- the caller, however large the table.
CREATE OR REPLACE FUNCTION pgaudit_kit.reconcile_table(p_relid oid)
RETURNS TABLE (problem text, pk jsonb, live jsonb, recorded jsonb, row_count bigint, event_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = '' SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres'
SET extra_float_digits = '1' SET bytea_output = 'hex' SET lc_monetary = 'C'
AS $fn$
DECLARE
  cfg pgaudit_kit.enrolled_table%ROWTYPE;
  v_relkind "char";
  v_table text;          -- the live rows: the table with all its partitions, or ONLY the table (inheritance)
  v_cols text[];         -- the columns capture records, in column order
  v_bpchar text[];
  v_pk text[];
  v_relids oid[];        -- the table and its current partitions (events of a partition enrolled on its own)
  v_parts text[];        -- current partitions, named as capture names them in partition_name
  v_start_id bigint;     -- the newest enrolment event: only history since it counts
  v_start_xid bigint;
  v_next bigint;         -- next transaction id of this snapshot: every visible xmin precedes it
  v_ipad bytea;
  v_opad bytea;
  v_control jsonb;
  v_epoch record;
  v_switched text[];
  v_switched_all text[] := '{}';
  v_switched_case text := '';
  v_absent text[];
  v_compared text[];
  v_proj text[];
  v_events text;
  v_old text;
  v_rewrites bigint[];   -- 32-bit xids of the table's recorded DDL since enrolment: a rewrite gives rows its xmin
BEGIN
  SELECT * INTO cfg FROM pgaudit_kit.enrolled_table e WHERE e.relid = p_relid;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgaudit-kit: the table with OID % is not enrolled', p_relid USING ERRCODE = 'undefined_object';
  END IF;
  SELECT c.relkind, pg_catalog.format('%s%I.%I', CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY ' END,
                                      n.nspname, c.relname)
    INTO v_relkind, v_table
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = p_relid;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING
      ERRCODE = 'undefined_table',
      MESSAGE = pg_catalog.format('pgaudit-kit: enrolled table %I.%I no longer exists', cfg.schema_name, cfg.table_name),
      HINT = 'After a restore, pgaudit-kit install re-binds capture to the restored tables.';
  END IF;

  -- the column lists capture uses (pgaudit_kit.capture_function_source)
  SELECT COALESCE(pg_catalog.array_agg(a.attname::text ORDER BY a.attnum), '{}') INTO v_cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped
     AND NOT (a.attname::text = ANY (cfg.excluded_columns));
  v_bpchar := pgaudit_kit.columns_of_type(p_relid, '{pg_catalog.bpchar}');
  -- the primary key the live rows have now; recorded keys are taken from the recorded images, so a key
  -- defined after some events were recorded still matches them
  SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.i) INTO v_pk
    FROM pg_catalog.pg_index x
    CROSS JOIN LATERAL pg_catalog.unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, i)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
   WHERE x.indrelid = p_relid AND x.indisprimary;
  SELECT pg_catalog.array_agg(DISTINCT r.oid), COALESCE(pg_catalog.array_agg(r.oid::regclass::text)
                                                         FILTER (WHERE r.oid <> p_relid), '{}')
    INTO v_relids, v_parts
    FROM (SELECT p_relid AS oid UNION SELECT p.relid::oid FROM pg_catalog.pg_partition_tree(p_relid) p) r;
  IF pg_catalog.cardinality(cfg.redacted_columns) > 0 THEN
    SELECT k.ipad, k.opad INTO STRICT v_ipad, v_opad FROM pgaudit_kit.redaction_key k;
  END IF;

  -- the table's enrolment history, in one pass over the log: enable, options and rebind control events, and the
  -- restatement a retirement records ('enrolled'): history before it left the database, so, as after a rebind,
  -- only history since it counts
  SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'id', e.id, 'xid', e.xid::text::int8, 'action', e.row_data ->> 'action',
             'redacted', e.row_data -> 'options' -> 'redacted_columns') ORDER BY e.id), '[]')
    INTO v_control
    FROM pgaudit_kit.event e
   WHERE e.op = 'K' AND e.relid = p_relid AND e.row_data ->> 'action' IN ('enable', 'options', 'rebind', 'enrolled');
  SELECT (c.v ->> 'id')::int8, (c.v ->> 'xid')::int8 INTO v_start_id, v_start_xid
    FROM pg_catalog.jsonb_array_elements(v_control) AS c(v)
   WHERE c.v ->> 'action' IN ('enable', 'rebind', 'enrolled')
   ORDER BY (c.v ->> 'id')::int8 DESC LIMIT 1;
  v_start_id := COALESCE(v_start_id, 0);
  v_start_xid := COALESCE(v_start_xid, 0);
  -- STABLE: every statement here reads this same snapshot
  v_next := pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::int8;

  -- Redaction settings in force for each recorded event: those of the newest enable/options control
  -- event before it. A column redacted then but not now (or the reverse) was recorded in another form:
  -- it is not compared for those events.
  FOR v_epoch IN
    SELECT (c.v ->> 'id')::int8 AS id,
           ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(c.v -> 'redacted', '[]'))) AS redacted
      FROM pg_catalog.jsonb_array_elements(v_control) AS c(v)
     WHERE c.v ->> 'action' IN ('enable', 'options', 'enrolled')
       AND (c.v ->> 'id')::int8 >= COALESCE((SELECT pg_catalog.max((k.v ->> 'id')::int8)
                                              FROM pg_catalog.jsonb_array_elements(v_control) AS k(v)
                                             WHERE k.v ->> 'action' IN ('enable', 'options', 'enrolled')
                                               AND (k.v ->> 'id')::int8 <= v_start_id), 0)
     ORDER BY 1
  LOOP
    v_switched := ARRAY(SELECT c FROM pg_catalog.unnest(v_cols) AS c
                         WHERE (c = ANY (v_epoch.redacted)) <> (c = ANY (cfg.redacted_columns)));
    v_switched_all := v_switched_all || v_switched;
    v_switched_case := pg_catalog.format(' WHEN r.event_id > %s THEN %L::text[]', v_epoch.id, v_switched)
                       || v_switched_case;  -- newest first
  END LOOP;

  -- A live row predates the enrolment when its xmin precedes the enrolling transaction. xmin is 32 bits:
  -- its distance back from this snapshot's next xid (mod 2^32) is exact for every row not frozen more than
  -- 2^32 transactions ago (freezing keeps the original xmin); 1 and 2 are frozen markers of old servers.
  -- A row whose xmin is a transaction that ran recorded DDL on the table (ALTER TABLE ... TYPE, a stored
  -- generated column: PostgreSQL rewrites every row) was rewritten by that DDL, not written unrecorded: it
  -- counts as predating the enrolment, as it did before the rewrite.
  v_rewrites := ARRAY(SELECT DISTINCT e.xid::text::int8 % 4294967296 FROM pgaudit_kit.event e
                       WHERE e.op = 'S' AND e.relid = ANY (v_relids) AND e.id > v_start_id);
  v_old := 'l.xmin::text::int8 < 3 OR ($5 - l.xmin::text::int8) % 4294967296 >= $5 - $6'
           ' OR l.xmin::text::int8 = ANY ($11)';
  -- parameters of every dynamic statement below:
  --   $1 relids, $2 start event id, $3 ipad, $4 opad, $5 next xid, $6 enrolling xid, $7 primary key columns,
  --   $8 current partitions, $9 the table, $10 recorded columns, $11 xids of recorded DDL (v_rewrites)
  v_events := 'e.relid = ANY ($1) AND e.id > $2';

  IF v_pk IS NOT NULL THEN
    -- An UPDATE that changes a row's key records it under the new key; the old key's history gets a
    -- removal ('m') at the same event. Whether that removal ends the old key's newest recorded row or
    -- another row's (a swap within one statement, where events of the statement come in any order), the
    -- images tell: the one that left is the one whose image it had.
    RETURN QUERY EXECUTE pg_catalog.format($q$
      SELECT CASE WHEN l.pk IS NULL THEN 'missing'
                  WHEN r.pk IS NULL OR r.gone OR r.op NOT IN ('I', 'U') THEN 'unrecorded'
                  ELSE 'changed' END,
             COALESCE(l.pk, r.pk), l.image,
             CASE WHEN NOT r.gone THEN r.row_data END, 1::int8, CASE WHEN NOT r.gone THEN r.event_id END
        FROM (SELECT %1$s AS pk, %2$s AS image, (%3$s) AS old FROM %4$s l) l
        FULL JOIN (
          SELECT y.pk, y.op, y.row_data, y.event_id,
                 (y.partition_name IS NOT NULL AND NOT y.partition_name = ANY ($8)) AS gone
            FROM (SELECT z.pk,
                         CASE WHEN z.keep_next THEN z.next_op ELSE z.op END AS op,
                         CASE WHEN z.keep_next THEN z.next_row_data ELSE z.row_data END AS row_data,
                         CASE WHEN z.keep_next THEN z.next_event_id ELSE z.event_id END AS event_id,
                         CASE WHEN z.keep_next THEN z.next_partition ELSE z.partition_name END AS partition_name
                    FROM (SELECT w.*,
                                 w.op = 'm' AND w.next_op IN ('I', 'U')
                                 AND EXISTS (SELECT FROM pg_catalog.jsonb_each(w.row_data) b
                                               JOIN pg_catalog.jsonb_each(w.next_row_data) a ON a.key = b.key
                                              WHERE a.value <> b.value%8$s) AS keep_next
                            FROM (SELECT DISTINCT ON (x.pk) x.pk, x.op, x.row_data, x.event_id, x.partition_name,
                                         pg_catalog.lead(x.op) OVER k AS next_op,
                                         pg_catalog.lead(x.row_data) OVER k AS next_row_data,
                                         pg_catalog.lead(x.event_id) OVER k AS next_event_id,
                                         pg_catalog.lead(x.partition_name) OVER k AS next_partition
                                    FROM (SELECT CASE WHEN e.moved THEN %6$s ELSE %5$s END AS pk, e.id AS event_id,
                                                 CASE WHEN e.moved THEN 'm'::"char" ELSE e.op END AS op,
                                                 CASE WHEN e.moved THEN e.row_data || e.old_values ELSE e.row_data END
                                                   AS row_data,
                                                 e.partition_name
                                            FROM (SELECT e.id, e.op, e.row_data, e.old_values, e.partition_name,
                                                         pg_catalog.unnest(CASE WHEN e.op = 'U' AND e.old_values ?| $7
                                                                                THEN '{f,t}'::boolean[]
                                                                                ELSE '{f}'::boolean[] END) AS moved
                                                    FROM pgaudit_kit.recorded_event e
                                                   WHERE %7$s AND e.op IN ('I', 'U', 'D', 'T')) e) x
                                  WINDOW k AS (PARTITION BY x.pk ORDER BY x.event_id DESC)
                                   ORDER BY x.pk, x.event_id DESC) w) z) y) r ON r.pk = l.pk
       WHERE CASE WHEN l.pk IS NULL THEN r.op IN ('I', 'U') AND NOT r.gone
                  WHEN r.pk IS NULL OR r.gone THEN NOT l.old
                  WHEN r.op NOT IN ('I', 'U') THEN true
                  ELSE l.image <> r.row_data
                       AND EXISTS (SELECT FROM pg_catalog.jsonb_each(r.row_data) rv
                                     JOIN pg_catalog.jsonb_each(l.image) lv ON lv.key = rv.key
                                    WHERE lv.value <> rv.value%9$s) END
       ORDER BY 2$q$,
      pgaudit_kit.pk_sql(v_pk, v_bpchar, 'l'),
      pgaudit_kit.image_sql(v_cols, v_bpchar, cfg.redacted_columns, 'l', '$3', '$4'),
      v_old, v_table,
      (SELECT 'pg_catalog.jsonb_build_object(' || pg_catalog.string_agg(pg_catalog.format('%L, e.row_data -> %L', c, c),
                                                                      ', ' ORDER BY i) || ')'
         FROM pg_catalog.unnest(v_pk) WITH ORDINALITY AS u(c, i)),
      (SELECT 'pg_catalog.jsonb_build_object(' || pg_catalog.string_agg(
                  pg_catalog.format('%L, (e.row_data || e.old_values) -> %L', c, c), ', ' ORDER BY i) || ')'
         FROM pg_catalog.unnest(v_pk) WITH ORDINALITY AS u(c, i)),
      v_events,
      CASE WHEN pg_catalog.cardinality(v_switched_all) > 0
           THEN pg_catalog.format(' AND NOT a.key = ANY (%L::text[])', v_switched_all) ELSE '' END,
      CASE WHEN pg_catalog.cardinality(v_switched_all) > 0
           THEN pg_catalog.format(' AND NOT rv.key = ANY (CASE%s ELSE ''{}''::text[] END)', v_switched_case)
           ELSE '' END)
    USING v_relids, v_start_id, v_ipad, v_opad, v_next, v_start_xid, v_pk, v_parts, p_relid, v_cols, v_rewrites;
  ELSE
    -- Without a key, events of partitions detached or dropped since are left out of the replay (their
    -- rows left with them); events a current partition recorded while enrolled on its own count.
    IF v_relkind = 'p' THEN
      v_events := v_events || ' AND (e.relid <> $9 OR e.partition_name = ANY ($8))';
    END IF;
    -- compared: the recorded columns every replayed image has, redacted alike in all of them
    EXECUTE pg_catalog.format($q$
      SELECT COALESCE(pg_catalog.array_agg(DISTINCT k.c), '{}')
        FROM (SELECT e.row_data FROM pgaudit_kit.recorded_event e
               WHERE %s AND e.op IN ('I', 'U', 'D', 'T') AND NOT e.row_data ?& $10) e
        CROSS JOIN pg_catalog.unnest($10) AS k(c)
       WHERE NOT e.row_data ? k.c$q$, v_events)
      INTO v_absent
      USING v_relids, v_start_id, v_ipad, v_opad, v_next, v_start_xid, v_pk, v_parts, p_relid, v_cols, v_rewrites;
    v_compared := ARRAY(SELECT u.c FROM pg_catalog.unnest(v_cols) WITH ORDINALITY AS u(c, i)
                         WHERE NOT u.c = ANY (v_switched_all || v_absent) ORDER BY u.i);
    -- a recorded image projected onto the compared columns (jsonb_build_object: at most 100 arguments)
    SELECT pg_catalog.array_agg(p.sql ORDER BY x.n) INTO v_proj
      FROM pg_catalog.unnest(ARRAY['e.row_data', '(e.row_data || e.old_values)']) WITH ORDINALITY AS x(expr, n)
      CROSS JOIN LATERAL (
        SELECT COALESCE(pg_catalog.string_agg(chunks.chunk, ' || ' ORDER BY chunks.g), '''{}''::jsonb') AS sql
          FROM (SELECT (i - 1) / 50 AS g,
                       'pg_catalog.jsonb_build_object(' || pg_catalog.string_agg(
                           pg_catalog.format('%L, %s -> %L', v_compared[i], x.expr, v_compared[i]), ', ' ORDER BY i)
                       || ')' AS chunk
                  FROM pg_catalog.generate_subscripts(v_compared, 1) AS i
                 GROUP BY 1) chunks) p;
    RETURN QUERY EXECUTE pg_catalog.format($q$
      SELECT CASE WHEN x.diff > 0 THEN 'unrecorded' ELSE 'missing' END, NULL::jsonb, x.live_image, x.recorded_image,
             pg_catalog.abs(x.diff), NULL::int8
        FROM (SELECT l.image AS live_image, r.image AS recorded_image,
                     COALESCE(l.fresh, 0) - COALESCE(r.net, 0) + COALESCE(r.low, 0) AS diff
                FROM (SELECT %1$s AS image, pg_catalog.count(*) FILTER (WHERE NOT (%2$s)) AS fresh
                        FROM %3$s l GROUP BY 1) l
                FULL JOIN (
                  SELECT s.image, pg_catalog.sum(s.delta) AS net, LEAST(0, pg_catalog.min(s.running)) AS low
                    FROM (SELECT d.image, d.delta,
                                 pg_catalog.sum(d.delta) OVER (PARTITION BY d.image ORDER BY d.id, d.sub
                                                               ROWS UNBOUNDED PRECEDING) AS running
                            FROM (SELECT CASE WHEN e.before THEN %5$s ELSE %4$s END AS image, e.id,
                                         CASE WHEN e.before THEN 0 ELSE 1 END AS sub,
                                         CASE WHEN e.op IN ('I', 'U') AND NOT e.before THEN 1 ELSE -1 END AS delta
                                    FROM (SELECT e.id, e.op, e.row_data, e.old_values,
                                                 pg_catalog.unnest(CASE WHEN e.op = 'U' THEN '{t,f}'::boolean[]
                                                                        ELSE '{f}'::boolean[] END) AS before
                                            FROM pgaudit_kit.recorded_event e
                                           WHERE %6$s AND e.op IN ('I', 'U', 'D', 'T')) e) d) s
                   GROUP BY s.image) r ON r.image = l.image) x
       WHERE x.diff <> 0
       ORDER BY 1, COALESCE(x.live_image, x.recorded_image)$q$,
      pgaudit_kit.image_sql(v_compared, v_bpchar, cfg.redacted_columns, 'l', '$3', '$4'),
      v_old, v_table, v_proj[1], v_proj[2], v_events)
    USING v_relids, v_start_id, v_ipad, v_opad, v_next, v_start_xid, v_pk, v_parts, p_relid, v_cols, v_rewrites;
  END IF;

  RETURN QUERY EXECUTE pg_catalog.format('SELECT NULL::text, NULL::jsonb, NULL::jsonb, NULL::jsonb, pg_catalog.count(*), '
                                         'NULL::int8 FROM %s', v_table);
END
$fn$;
ALTER FUNCTION pgaudit_kit.reconcile_table(oid) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.reconcile_table(oid) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.reconcile_table(oid) IS
    'pgaudit-kit: live rows of an enrolled table that its recorded history cannot explain (writes that bypassed capture)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.reconcile_table(oid) TO pgaudit_kit_admin, pgaudit_kit_reader;
