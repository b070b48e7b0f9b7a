-- pgaudit-kit: pgaudit_kit.retire_events(last_xid, last_event_id) -- for pgaudit_kit.retire, in the transaction that
-- recorded the retirement: removes the events up to that sealed position ((xid, id) order) and returns how many.
-- A partition of pgaudit_kit.event that holds nothing else, and that no event can still be written to (its range
-- lies below the next id), is dropped whole: no DELETE of its rows, no dead tuples, no vacuum. From the others
-- (the partition the boundary falls in, event_overflow) the retired rows are deleted. Dropping a partition takes an
-- ACCESS EXCLUSIVE lock on pgaudit_kit.event, so it is taken last (after the deletes) and briefly: if audited
-- writes or readers hold the table longer than lock_timeout (the caller's, else 200 ms: new writers queue behind
-- the request meanwhile), the partitions' rows are deleted instead and the retirement goes ahead all the same.
CREATE OR REPLACE FUNCTION pgaudit_kit.retire_events(p_last_xid xid8, p_last_event_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_sequence text := pg_catalog.pg_get_serial_sequence('pgaudit_kit.event', 'id');
  v_last bigint;
  v_whole text[];
  v_name text;
  v_count bigint;
  v_removed bigint := 0;
  v_lock_timeout text := pg_catalog.current_setting('lock_timeout');
  v_locked boolean;
BEGIN
  IF NOT EXISTS (SELECT FROM pgaudit_kit.retirement r WHERE r.xid = pg_catalog.pg_current_xact_id()) THEN
    RAISE EXCEPTION 'pgaudit-kit: events leave only in the transaction that records their retirement'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  EXECUTE pg_catalog.format('SELECT last_value FROM %s', v_sequence) INTO v_last;
  -- the partitions that hold only retired events (as far as this snapshot sees: checked again under the lock)
  v_whole := ARRAY(
    SELECT p.name FROM pgaudit_kit.event_partitions() p
     WHERE NOT p.is_overflow AND p.upper_id <= v_last
       AND pgaudit_kit.partition_retired(p.partition, p_last_xid, p_last_event_id));
  FOR v_name IN SELECT p.name FROM pgaudit_kit.event_partitions() p WHERE p.name <> ALL (v_whole) LOOP
    v_removed := v_removed + pgaudit_kit.delete_retired(v_name, p_last_xid, p_last_event_id);
  END LOOP;
  IF pg_catalog.cardinality(v_whole) > 0 THEN
    IF v_lock_timeout = '0' THEN
      PERFORM pg_catalog.set_config('lock_timeout', '200ms', true);
    END IF;
    BEGIN
      LOCK TABLE ONLY pgaudit_kit.event IN ACCESS EXCLUSIVE MODE;  -- kept when the block ends
      v_locked := true;
    EXCEPTION WHEN lock_not_available THEN
      v_locked := false;
    END;
    PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
    FOREACH v_name IN ARRAY v_whole LOOP
      -- under the lock no writer holds the table: an event committed since the first look shows here
      IF v_locked AND pgaudit_kit.partition_retired(pg_catalog.format('pgaudit_kit.%I', v_name)::regclass,
                                                    p_last_xid, p_last_event_id) THEN
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM pgaudit_kit.%I', v_name) INTO v_count;
        PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', v_name, true);
        EXECUTE pg_catalog.format('DROP TABLE pgaudit_kit.%I', v_name);
        PERFORM pg_catalog.set_config('pgaudit_kit.partition_work', '', true);
        v_removed := v_removed + v_count;
      ELSE
        v_removed := v_removed + pgaudit_kit.delete_retired(v_name, p_last_xid, p_last_event_id);
      END IF;
    END LOOP;
  END IF;
  RETURN v_removed;
END
$fn$;
ALTER FUNCTION pgaudit_kit.retire_events(xid8, bigint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.retire_events(xid8, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.retire_events(xid8, bigint) IS
    'pgaudit-kit: remove retired events, dropping the partitions that hold nothing else (for retire)';
