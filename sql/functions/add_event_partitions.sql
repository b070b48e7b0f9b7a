-- pgaudit-kit: pgaudit_kit.add_event_partitions(width, ahead) -- keeps `ahead` empty partitions of pgaudit_kit.event
-- beyond the one the next id falls in, each `width` ids wide (by default as wide as the newest; the first, from
-- MINVALUE, 2^32 ids: about four million events), and the DEFAULT partition event_overflow. Returns how many it
-- created. Run by install, by `pgaudit-kit seal` (and its follower) and by `pgaudit-kit partitions`.
-- Each partition is created as a table of its own and then attached: ATTACH PARTITION takes a SHARE UPDATE
-- EXCLUSIVE lock on pgaudit_kit.event, which writers (ROW EXCLUSIVE) do not wait for, where CREATE TABLE ...
-- PARTITION OF would take an ACCESS EXCLUSIVE one and stop every audited write until it commits. It does take an
-- ACCESS EXCLUSIVE lock on event_overflow, for a moment (see below), and only when a partition is due: about once
-- every four million events.
-- Events beyond the last partition (nobody ran any of the above for millions of events) land in event_overflow,
-- never in an error; the next partition then starts after them, and doctor reports them.
CREATE OR REPLACE FUNCTION pgaudit_kit.add_event_partitions(p_width bigint DEFAULT NULL, p_ahead integer DEFAULT 2)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' SET lock_timeout = '100ms' AS $fn$
DECLARE
  v_sequence text := pg_catalog.pg_get_serial_sequence('pgaudit_kit.event', 'id');
  v_last bigint;
  v_called boolean;
  v_next bigint;     -- the next id the identity hands out (a chunk uses up to 1,023 after it)
  v_top bigint;      -- upper bound of the last range partition
  v_width bigint;
  v_ahead integer;
  v_number integer;
  v_name text;
  v_overflow_top bigint;
  v_has_default boolean;
  v_created integer := 0;
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
         pg_catalog.count(*) FILTER (WHERE p.lower_id > v_next), COALESCE(pg_catalog.bool_or(p.is_default), false)
    INTO v_top, v_number, v_ahead, v_has_default FROM pgaudit_kit.event_partitions() p;
  IF v_ahead >= p_ahead AND v_has_default THEN
    RETURN 0;
  END IF;
  IF NOT v_has_default THEN
    PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', 'event_overflow', true);
    CREATE TABLE pgaudit_kit.event_overflow (LIKE pgaudit_kit.event);
    ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.event_overflow DEFAULT;
    PERFORM pgaudit_kit.protect_event_partition('pgaudit_kit.event_overflow'::regclass);
    PERFORM pgaudit_kit.record_partition('event_overflow', NULL, NULL);
  ELSE
    -- Attaching a partition scans the DEFAULT partition under an ACCESS EXCLUSIVE lock, held to the end of the
    -- transaction (the caller's: seal and `partitions` commit at once). Taken first: every reader of the whole
    -- event table (sealing, verify, review) waits for it, so it waits no longer than lock_timeout (100 ms) for
    -- them, and fails (nothing created; the next seal tries again) rather than hold them up. Under it no event
    -- arrives in event_overflow between this look and the attachment.
    LOCK TABLE pgaudit_kit.event_overflow IN ACCESS EXCLUSIVE MODE;
    SELECT pg_catalog.max(o.id) + 1 INTO v_overflow_top FROM pgaudit_kit.event_overflow o;
  END IF;
  SELECT COALESCE(p_width, p.upper_id - p.lower_id) INTO v_width
    FROM pgaudit_kit.event_partitions() p WHERE p.lower_id IS NOT NULL AND NOT p.is_default
   ORDER BY p.upper_id DESC LIMIT 1;
  v_width := COALESCE(v_width, p_width, 4294967296);
  IF v_top IS NULL THEN
    -- the first partition: everything below one width
    v_top := GREATEST(v_width, v_overflow_top, v_next + 1024);
    PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', 'event_p0', true);
    CREATE TABLE pgaudit_kit.event_p0 (LIKE pgaudit_kit.event);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.event_p0 '
                              'FOR VALUES FROM (MINVALUE) TO (%s)', v_top);
    PERFORM pgaudit_kit.protect_event_partition('pgaudit_kit.event_p0'::regclass);
    PERFORM pgaudit_kit.record_partition('event_p0', NULL, v_top);
    v_number := 0;
    v_created := v_created + 1;
  END IF;
  -- after the events in event_overflow; and where the ids have outrun the partitions, from the next id (the ids
  -- before it stay in event_overflow, where any still being written goes too)
  v_top := GREATEST(v_top, v_overflow_top, v_next);
  WHILE v_ahead < p_ahead LOOP
    v_number := COALESCE(v_number, 0) + 1;
    v_name := 'event_p' || v_number;
    PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', v_name, true);
    EXECUTE pg_catalog.format('CREATE TABLE pgaudit_kit.%I (LIKE pgaudit_kit.event)', v_name);
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.event ATTACH PARTITION pgaudit_kit.%I FOR VALUES FROM (%s) TO (%s)',
                              v_name, v_top, v_top + v_width);
    PERFORM pgaudit_kit.protect_event_partition(pg_catalog.format('pgaudit_kit.%I', v_name)::regclass);
    PERFORM pgaudit_kit.record_partition(v_name, v_top, v_top + v_width);
    v_top := v_top + v_width;
    v_ahead := v_ahead + 1;
    v_created := v_created + 1;
  END LOOP;
  PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', '', true);
  RETURN v_created;
END
$fn$;
ALTER FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) IS
    'pgaudit-kit: create the partitions of pgaudit_kit.event ahead of its identity (admin)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.add_event_partitions(bigint, integer) TO pgaudit_kit_admin;
