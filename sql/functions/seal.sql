-- pgaudit-kit: pgaudit_kit.seal -- seal the next committed events below the xid horizon into one block
CREATE OR REPLACE FUNCTION pgaudit_kit.seal(p_max_events integer DEFAULT 10000, p_wait boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
-- A merge or hash join would read pgaudit_kit.transaction from its start to find the batch's few rows.
SET enable_mergejoin = 'off' SET enable_hashjoin = 'off' AS $fn$
DECLARE
  v_last pgaudit_kit.block%ROWTYPE;
  v_frontier bytea[] := '{}';
  v_size bigint := 0;
  v_first bigint;
  v_last_xid xid8 := '0';
  v_last_id bigint := 0;
  v_xid_events bigint := 0;   -- events of v_last_xid when it was first sealed (it had ended)
  v_xid_sealed bigint := 0;   -- how many of them are sealed so far
  v_block_no bigint := 0;
  v_prev bytea;
  v_ids bigint[];
  v_leaf_bytes bytea;
  v_from_xid xid8;
  v_from_id bigint;
  v_levels bytea[];
  v_nodes bytea;
  v_n integer;
  v_pos bigint;
  v_level integer;
  v_root bytea;
  v_count integer := 0;
  v_taken_of_last bigint;
  v_new_xid xid8;
  v_cap_id bigint;
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_horizon xid8;             -- transactions below it have ended: taken once, for the chunks and the events alike
  v_expand_xid xid8;          -- the last chunk expanded by this call
  v_expand_id bigint;
  v_stop_xid xid8;            -- the first chunk left: the events from its position on wait for it
  v_stop_id bigint;
  v_bad record;
BEGIN
  IF p_wait THEN
    PERFORM pg_catalog.pg_advisory_xact_lock(1885823850);  -- 'pgks': the sealing lock
  ELSIF NOT pg_catalog.pg_try_advisory_xact_lock(1885823850) THEN
    RETURN 0;
  END IF;
  SELECT * INTO v_last FROM pgaudit_kit.block ORDER BY block_no DESC LIMIT 1;
  IF FOUND THEN
    v_frontier := v_last.frontier;
    v_size := v_last.tree_size;
    v_last_xid := v_last.last_xid;
    v_last_id := v_last.last_event_id;
    v_xid_events := v_last.last_xid_events;
    v_xid_sealed := v_last.last_xid_sealed;
    v_block_no := v_last.block_no + 1;
    v_prev := v_last.block_hash;
  END IF;
  v_first := v_size;
  v_horizon := pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot());
  -- Chunks (pgaudit_kit.event_chunk: statements of many rows) of ended transactions become events first, whole
  -- chunks in (xid, id) order, up to about p_max_events events; the events of a chunk left for a later call, and
  -- all that follow them, wait for it, so the log's order is the order in which they were recorded.
  SELECT c.xid, c.id INTO v_expand_xid, v_expand_id
    FROM (SELECT c.xid, c.id, pg_catalog.sum(c.n_events) OVER (ORDER BY c.xid, c.id) - c.n_events AS before
            FROM pgaudit_kit.event_chunk c WHERE c.xid < v_horizon) c
   WHERE c.before < p_max_events
   ORDER BY c.xid DESC, c.id DESC LIMIT 1;
  IF FOUND THEN
    -- a chunk capture cannot have written stops sealing at it (invariant_problems() reports it)
    SELECT c.xid, c.id, c.schema_name, c.table_name, pgaudit_kit.chunk_problem(c) AS problem INTO v_bad
      FROM pgaudit_kit.event_chunk c
     WHERE (c.xid, c.id) <= (v_expand_xid, v_expand_id) AND pgaudit_kit.chunk_problem(c) IS NOT NULL
     ORDER BY c.xid, c.id LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION USING
        ERRCODE = 'data_corrupted',
        MESSAGE = pg_catalog.format('pgaudit-kit: the chunk of transaction %s from event %s (%I.%I) is malformed '
                                    '(%s): nothing from it on can be sealed', v_bad.xid, v_bad.id, v_bad.schema_name,
                                    v_bad.table_name, v_bad.problem),
        HINT = 'Only a superuser past the guards can have written it; verify and doctor report it.';
    END IF;
    INSERT INTO pgaudit_kit.event OVERRIDING SYSTEM VALUE
    SELECT e.* FROM pgaudit_kit.event_chunk c CROSS JOIN LATERAL pgaudit_kit.chunk_events(c) e
     WHERE (c.xid, c.id) <= (v_expand_xid, v_expand_id);
    DELETE FROM pgaudit_kit.event_chunk c WHERE (c.xid, c.id) <= (v_expand_xid, v_expand_id);
  END IF;
  SELECT c.xid, c.id INTO v_stop_xid, v_stop_id
    FROM pgaudit_kit.event_chunk c WHERE c.xid < v_horizon ORDER BY c.xid, c.id LIMIT 1;
  IF NOT FOUND THEN
    v_stop_xid := v_horizon;
    v_stop_id := 0;
  END IF;
  -- the last id of the sealed transaction's events still to seal (NULL: none left)
  SELECT pg_catalog.max(r.id) INTO v_cap_id
    FROM (SELECT r.id FROM pgaudit_kit.event r WHERE r.xid = v_last_xid AND r.id > v_last_id
           ORDER BY r.id LIMIT GREATEST(v_xid_events - v_xid_sealed, 0)) r;
  -- The batch in (xid, id) order, from the sealed position on. Of the last sealed transaction, only the
  -- events it had when first sealed (up to v_cap_id): one added to it later is never sealed (verify
  -- reports it). e.id <= NULL is not true, so with nothing left of it the scan skips to the next xid.
  SELECT pg_catalog.array_agg(b.id ORDER BY b.xid, b.id),
         pg_catalog.string_agg(b.leaf, ''::bytea ORDER BY b.xid, b.id), pg_catalog.count(*)
    INTO v_ids, v_leaf_bytes, v_count
    FROM (SELECT e.id, e.xid,
                 pg_catalog.sha256('\x00'::bytea OPERATOR(pg_catalog.||) pgaudit_kit.event_leaf_input(e, t)) AS leaf
            FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
           WHERE (e.xid, e.id) > (v_last_xid, v_last_id)
             AND (e.xid, e.id) < (v_stop_xid, v_stop_id)
             AND (e.xid > v_last_xid OR e.id <= v_cap_id)
           ORDER BY e.xid, e.id
           LIMIT p_max_events) b;
  IF v_count = 0 THEN
    RETURN 0;
  END IF;
  v_from_xid := v_last_xid;
  v_from_id := v_last_id;
  v_last_id := v_ids[v_count];   -- bigint is fixed-width: subscripting is direct
  SELECT e.xid INTO STRICT v_new_xid FROM pgaudit_kit.event e WHERE e.id = v_last_id;
  -- how many of the batch belong to its last transaction: an index range, as the batch was read
  v_taken_of_last := (SELECT pg_catalog.count(*) FROM pgaudit_kit.event e
                       WHERE e.xid = v_new_xid AND e.id <= v_last_id AND (e.xid, e.id) > (v_from_xid, v_from_id));
  IF v_new_xid = v_last_xid THEN
    v_xid_sealed := v_xid_sealed + v_taken_of_last;
  ELSE
    v_last_xid := v_new_xid;
    v_xid_sealed := v_taken_of_last;
    -- the transaction has ended (its xid is below the horizon): this is all it will ever have, its chunks' included
    v_xid_events := (SELECT pg_catalog.count(*) FROM pgaudit_kit.event e WHERE e.xid = v_last_xid)
                    + COALESCE((SELECT pg_catalog.sum(c.n_events) FROM pgaudit_kit.event_chunk c
                                 WHERE c.xid = v_last_xid), 0);
  END IF;
  -- RFC 9162 append, a level at a time. Bit k of the tree size is set when the frontier holds a complete
  -- subtree of 2^k leaves: v_levels[k + 1]. At level k the new nodes start at index v_pos (the old size
  -- shifted right by k); an odd start pairs with the frontier's subtree of that level, an odd count
  -- leaves its last node as the new subtree of that level, and every pair becomes one node above. Each
  -- level is one set-based query (v2 ran several PL/pgSQL statements per leaf: 17 us a leaf).
  v_levels := pg_catalog.array_fill(NULL::bytea, ARRAY[64]);
  v_n := pg_catalog.cardinality(v_frontier);
  FOR k IN 0 .. 62 LOOP
    IF (v_size >> k) & 1 = 1 THEN
      v_levels[k + 1] := v_frontier[v_n];
      v_n := v_n - 1;
    END IF;
  END LOOP;
  v_nodes := v_leaf_bytes;   -- the level's nodes, 32 bytes each, side by side
  v_pos := v_size;
  v_level := 0;
  WHILE pg_catalog.length(v_nodes) > 0 LOOP
    IF v_pos % 2 = 1 THEN
      v_nodes := v_levels[v_level + 1] || v_nodes;
      v_pos := v_pos - 1;
    END IF;
    v_n := pg_catalog.length(v_nodes) / 32;
    v_levels[v_level + 1] := CASE WHEN v_n % 2 = 1 THEN pg_catalog.substr(v_nodes, (v_n - 1) * 32 + 1, 32) END;
    -- a pair is 64 adjacent bytes
    v_nodes := COALESCE((SELECT pg_catalog.string_agg(
                                  pg_catalog.sha256('\x01'::bytea OPERATOR(pg_catalog.||)
                                                    pg_catalog.substr(v_nodes, g * 64 + 1, 64)), ''::bytea ORDER BY g)
                           FROM pg_catalog.generate_series(0, v_n / 2 - 1) AS g), ''::bytea);
    v_pos := v_pos / 2;
    v_level := v_level + 1;
  END LOOP;
  v_size := v_size + v_count;
  v_frontier := '{}';
  FOR k IN REVERSE 63 .. 1 LOOP
    IF v_levels[k] IS NOT NULL THEN
      v_frontier := v_frontier || v_levels[k];
    END IF;
  END LOOP;
  v_root := v_frontier[pg_catalog.cardinality(v_frontier)];
  FOR i IN REVERSE pg_catalog.cardinality(v_frontier) - 1 .. 1 LOOP
    v_root := pg_catalog.sha256('\x01'::bytea || v_frontier[i] || v_root);
  END LOOP;
  INSERT INTO pgaudit_kit.block (block_no, first_seq, tree_size, root, frontier, last_xid, last_event_id,
                                 last_xid_events, last_xid_sealed, event_ids, leaves, prev_hash, block_hash, sealed_at)
  VALUES (v_block_no, v_first, v_size, v_root, v_frontier, v_last_xid, v_last_id, v_xid_events, v_xid_sealed, v_ids,
          v_leaf_bytes, v_prev,
          pg_catalog.sha256(pgaudit_kit.block_hash_input(v_block_no, v_first, v_size, v_root, v_last_xid, v_last_id,
                                                         v_xid_events, v_xid_sealed, v_prev, v_now)),
          v_now);
  -- for the writers' commits: sealed a moment ago (pgaudit_kit.last_sealed, read without a query)
  PERFORM pg_catalog.setval('pgaudit_kit.last_sealed'::regclass, pg_catalog.floor(EXTRACT(epoch FROM v_now) * 1000)::bigint);
  RETURN v_count;
END
$fn$;
ALTER FUNCTION pgaudit_kit.seal(integer, boolean) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.seal(integer, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.seal(integer, boolean) IS
    'pgaudit-kit: seal the next committed events below the xid horizon into one block';
GRANT EXECUTE ON FUNCTION pgaudit_kit.seal(integer, boolean) TO pgaudit_kit_admin;
