-- pgaudit-kit: pgaudit_kit.add_event_partitions(width, ahead) -- keeps `ahead` empty partitions of pgaudit_kit.event
-- beyond the one the next id falls in, each `width` ids wide (by default sized to hold about four million events,
-- see below), and above them event_overflow, the partition of every id from there to MAXVALUE. Returns how many partitions it created. Run by install, by `pgaudit-kit seal` (and its
-- follower) and by `pgaudit-kit partitions`.
-- Why a range to MAXVALUE and not a DEFAULT partition: with a DEFAULT partition PostgreSQL cannot read the
-- partitions in the order of their ranges (an ordered Append), so `ORDER BY id DESC LIMIT 50` with a filter (every
-- review page) became a Merge Append that reads every partition until its first match: 360 ms instead of 15 on
-- 2M events in 14 partitions. Its price: a partition is carved out of event_overflow by detaching it and attaching
-- it again above the new one, under an ACCESS EXCLUSIVE lock on pgaudit_kit.event that audited writers and readers
-- wait for. So the lock is asked for only when a partition is due (about once every four million events), it is
-- waited for at most lock_timeout (100 ms: then nothing is done and the next seal tries again), and it is held for
-- the few catalog changes that follow (event_overflow is empty then, its re-attachment scans nothing).
-- Events can outrun the partitions (nobody sealed or ran this for millions of events): they are then in
-- event_overflow, never an error; the next run makes event_overflow, with them, a partition of its own up to the
-- last of them (a scan of those rows, under the lock), and starts the next partitions and a new event_overflow
-- above it. doctor reports such events meanwhile.
-- The control events recording the partitions are written last: while event_overflow is detached, an id above
-- the partitions has nowhere to go.
CREATE OR REPLACE FUNCTION pgaudit_kit.add_event_partitions(p_width bigint DEFAULT NULL, p_ahead integer DEFAULT 2)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' SET lock_timeout = '100ms' AS $fn$
DECLARE
  v_sequence text := pg_catalog.pg_get_serial_sequence('pgaudit_kit.event', 'id');
  v_last bigint;
  v_called boolean;
  v_next bigint;     -- the next id the identity hands out (a chunk uses up to 1,023 after it)
  v_top bigint;      -- upper bound of the last partition below event_overflow
  v_width bigint;
  v_ahead integer;
  v_number integer;
  v_name text;
  v_overflow regclass := pg_catalog.to_regclass('pgaudit_kit.event_overflow');
  v_overflow_top bigint;
  v_sized record;
  v_rows double precision;
  v_made text[] := '{}';
  v_lower bigint[] := '{}';
  v_upper bigint[] := '{}';
  i integer;
BEGIN
  IF p_width IS NOT NULL AND p_width < 1024 THEN
    RAISE EXCEPTION 'pgaudit-kit: a partition must be at least 1024 ids wide (one event)' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_ahead IS NULL OR p_ahead < 1 OR p_ahead > 100 THEN
    RAISE EXCEPTION 'pgaudit-kit: keep between 1 and 100 partitions ahead' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE pg_catalog.format('SELECT last_value, is_called FROM %s', v_sequence) INTO v_last, v_called;
  v_next := CASE WHEN v_called THEN v_last + 1024 ELSE v_last END;
  SELECT pg_catalog.max(p.upper_id), pg_catalog.max(pg_catalog.substring(p.name, '^event_p([0-9]+)$')::integer),
         pg_catalog.count(*) FILTER (WHERE p.lower_id > v_next)
    INTO v_top, v_number, v_ahead FROM pgaudit_kit.event_partitions() p WHERE NOT p.is_overflow;
  IF v_ahead >= p_ahead AND v_overflow IS NOT NULL THEN
    RETURN 0;
  END IF;
  -- The width: as given; else the ids that 4,194,304 events take here, judged by the newest of the last three
  -- partitions that holds enough of them to tell (10,000: the ids it has spent over its rows; a single-row event
  -- takes 1,024 ids, a chunk of up to 1,024 events of a bulk statement 1,024 in all, so the same width holds
  -- anything from 4 million to 4 billion events), kept within 2^20 and 2^36 ids; else as wide as the newest
  -- partition; else 2^26 ids (65,536 single-row events, or up to 64 million of bulk statements) for the first.
  -- Its rows: as VACUUM or ANALYZE last counted them, or counted here up to 100,000 (a partition filled faster
  -- than autovacuum looks at it has no count yet; the width must not wait for one); a partition with more rows
  -- than that and no count is analyzed here (a sample of its rows; it blocks no writer): 100,000 rows as its count
  -- would make the width too wide by as much as the partition has more rows (bench.scale: 20 times).
  v_width := p_width;
  IF v_width IS NULL THEN
    FOR v_sized IN SELECT p.partition, LEAST(p.upper_id, v_next) - COALESCE(p.lower_id, 0) AS spent,
                          GREATEST(c.reltuples, 0) AS reltuples
                     FROM pgaudit_kit.event_partitions() p JOIN pg_catalog.pg_class c ON c.oid = p.partition
                    WHERE NOT p.is_overflow AND COALESCE(p.lower_id, 0) < v_next
                    ORDER BY p.upper_id DESC LIMIT 3
    LOOP
      EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM (SELECT FROM %s LIMIT 100000) s', v_sized.partition)
         INTO v_rows;
      IF v_rows >= 100000 AND v_sized.reltuples < v_rows THEN
        EXECUTE pg_catalog.format('ANALYZE %s', v_sized.partition);
        SELECT GREATEST(c.reltuples, 0) INTO v_sized.reltuples FROM pg_catalog.pg_class c WHERE c.oid = v_sized.partition;
      END IF;
      v_rows := GREATEST(v_rows, v_sized.reltuples);
      IF v_rows >= 10000 THEN
        v_width := pg_catalog.round(4194304 * v_sized.spent::numeric / v_rows::numeric)::bigint;
        v_width := LEAST(GREATEST(v_width / 1024 * 1024, 1048576), 68719476736);
        EXIT;
      END IF;
    END LOOP;
  END IF;
  IF v_width IS NULL THEN
    SELECT p.upper_id - p.lower_id INTO v_width
      FROM pgaudit_kit.event_partitions() p WHERE p.lower_id IS NOT NULL AND NOT p.is_overflow
     ORDER BY p.upper_id DESC LIMIT 1;
  END IF;
  v_width := COALESCE(v_width, 67108864);
  IF v_overflow IS NOT NULL THEN
    LOCK TABLE ONLY pgaudit_kit.event IN ACCESS EXCLUSIVE MODE;
    PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', 'event_overflow', true);
    ALTER TABLE pgaudit_kit.event DETACH PARTITION pgaudit_kit.event_overflow;
    SELECT pg_catalog.max(o.id) + 1 INTO v_overflow_top FROM pgaudit_kit.event_overflow o;
    IF v_overflow_top IS NOT NULL THEN
      -- events outran the partitions: event_overflow becomes the partition that holds them
      v_number := COALESCE(v_number, 0) + 1;
      v_name := 'event_p' || v_number;
      PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', v_name, true);
      EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event_overflow RENAME TO %I', v_name);
      EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.%I FOR VALUES FROM (%s) TO (%s)',
                                v_name, v_top, v_overflow_top);
      PERFORM pgaudit_kit.protect_event_partition(pg_catalog.format('pgaudit_kit.%I', v_name)::regclass);
      v_made := v_made || v_name;
      v_lower := v_lower || v_top;
      v_upper := v_upper || v_overflow_top;
      v_top := v_overflow_top;
      v_overflow := NULL;
    END IF;
  END IF;
  IF v_top IS NULL THEN
    -- the first partition: everything below one width
    v_top := GREATEST(v_width, v_next + 1024);
    PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', 'event_p0', true);
    CREATE TABLE pgaudit_kit.event_p0 (LIKE pgaudit_kit.event);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.event_p0 '
                              'FOR VALUES FROM (MINVALUE) TO (%s)', v_top);
    PERFORM pgaudit_kit.protect_event_partition('pgaudit_kit.event_p0'::regclass);
    v_made := v_made || 'event_p0'::text;
    v_lower := v_lower || NULL::bigint;
    v_upper := v_upper || v_top;
    v_number := 0;
  END IF;
  -- contiguous: an id between two partitions would have nowhere to go (a chunk's events are written at sealing,
  -- long after their ids were handed out)
  WHILE v_ahead < p_ahead LOOP
    v_number := COALESCE(v_number, 0) + 1;
    v_name := 'event_p' || v_number;
    PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', v_name, true);
    EXECUTE pg_catalog.format('CREATE TABLE pgaudit_kit.%I (LIKE pgaudit_kit.event)', v_name);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.%I FOR VALUES FROM (%s) TO (%s)',
                              v_name, v_top, v_top + v_width);
    PERFORM pgaudit_kit.protect_event_partition(pg_catalog.format('pgaudit_kit.%I', v_name)::regclass);
    v_made := v_made || v_name;
    v_lower := v_lower || v_top;
    v_upper := v_upper || (v_top + v_width);
    IF v_top > v_next THEN
      v_ahead := v_ahead + 1;
    END IF;
    v_top := v_top + v_width;
  END LOOP;
  PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', 'event_overflow', true);
  IF v_overflow IS NULL THEN
    CREATE TABLE pgaudit_kit.event_overflow (LIKE pgaudit_kit.event);
  END IF;
  EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.event_overflow '
                            'FOR VALUES FROM (%s) TO (MAXVALUE)', v_top);
  PERFORM pgaudit_kit.protect_event_partition('pgaudit_kit.event_overflow'::regclass);
  PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', '', true);
  FOR i IN 1 .. pg_catalog.cardinality(v_made) LOOP
    PERFORM pgaudit_kit.record_partition(v_made[i], v_lower[i], v_upper[i]);
  END LOOP;
  RETURN pg_catalog.cardinality(v_made);
END
$fn$;
ALTER FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) IS
    'pgaudit-kit: create the partitions of pgaudit_kit.event ahead of its identity (admin)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) TO pgaudit_kit_admin;
