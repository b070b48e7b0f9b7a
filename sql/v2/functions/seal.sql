-- pgaudit-kit v2: pgaudit_kit.seal(max_events, wait) -> integer (events sealed)
-- Appends one block: the committed events after the last sealed position, in (xid, id) order, whose
-- transaction id is below the horizon pg_snapshot_xmin(pg_current_snapshot()). Every transaction with
-- a smaller xid has finished, so no event can ever appear before the sealed position afterwards: the
-- sealed prefix is final and a long-running transaction delays sealing without reordering it.
-- One advisory lock serialises sealers: wait => true blocks for it (the `seal` command), false gives up
-- at once (sealing piggy-backed on a writer's commit never waits for another writer).
-- A transaction may be split across blocks (so piggy-backed sealing stays short after a bulk write),
-- but its event count is fixed when it is first sealed (it has ended by then) and recorded in the block
-- (last_xid_events, with last_xid_sealed so far): an event added to a sealed transaction afterwards is
-- never sealed, and verify reports it.
CREATE FUNCTION pgaudit_kit.block_hash_input(p_block_no bigint, p_first_seq bigint, p_tree_size bigint,
                                             p_root bytea, p_last_xid xid8, p_last_event_id bigint,
                                             p_last_xid_events bigint, p_last_xid_sealed bigint,
                                             p_prev_hash bytea, p_sealed_at timestamptz) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT '\x5047414b424c3031'::bytea
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_block_no::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_first_seq::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_tree_size::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(p_root)
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_last_xid::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_last_event_id::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_last_xid_events::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_last_xid_sealed::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(p_prev_hash)
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(
           (EXTRACT(epoch FROM p_sealed_at) * 1000000)::bigint::text, 'UTF8'))
$fn$;
ALTER FUNCTION pgaudit_kit.block_hash_input(bigint, bigint, bigint, bytea, xid8, bigint, bigint, bigint, bytea, timestamptz)
    OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.block_hash_input(bigint, bigint, bigint, bytea, xid8, bigint, bigint, bigint, bytea, timestamptz) IS
    'pgaudit-kit: canonical encoding v1 of a block (hashed into block_hash)';

CREATE FUNCTION pgaudit_kit.seal(p_max_events integer DEFAULT 10000, p_wait boolean DEFAULT true) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
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
  v_ids bigint[] := '{}';
  v_leaves bytea[] := '{}';
  v_leaf_bytes bytea;
  v_node bytea;
  v_index bigint;
  v_root bytea;
  v_count integer := 0;
  v_taken_of_last bigint;
  v_new_xid xid8;
  v_cap_id bigint;
  v_now timestamptz := pg_catalog.clock_timestamp();
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
  -- the last id of the sealed transaction's events still to seal (NULL: none left)
  SELECT pg_catalog.max(r.id) INTO v_cap_id
    FROM (SELECT r.id FROM pgaudit_kit.event r WHERE r.xid = v_last_xid AND r.id > v_last_id
           ORDER BY r.id LIMIT GREATEST(v_xid_events - v_xid_sealed, 0)) r;
  -- The batch, set-based: ids, leaf hashes and their concatenation in (xid, id) order. A transaction
  -- may be split across blocks, but only into the number of events it had when first sealed: an event
  -- added to it later is never sealed (verify reports it).
  SELECT pg_catalog.array_agg(b.id ORDER BY b.xid, b.id), pg_catalog.array_agg(b.leaf ORDER BY b.xid, b.id),
         pg_catalog.string_agg(b.leaf, ''::bytea ORDER BY b.xid, b.id), pg_catalog.count(*)
    INTO v_ids, v_leaves, v_leaf_bytes, v_count
    FROM (SELECT e.id, e.xid,
                 pg_catalog.sha256('\x00'::bytea OPERATOR(pg_catalog.||) pgaudit_kit.event_leaf_input(e, t)) AS leaf
            FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
           WHERE e.xid < pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
             AND (e.xid > v_last_xid OR (e.xid = v_last_xid AND e.id > v_last_id AND e.id <= v_cap_id))
           ORDER BY e.xid, e.id
           LIMIT p_max_events) b;
  IF v_count = 0 THEN
    RETURN 0;
  END IF;
  SELECT e.xid, e.id INTO STRICT v_new_xid, v_last_id FROM pgaudit_kit.event e WHERE e.id = v_ids[v_count];
  v_taken_of_last := (SELECT pg_catalog.count(*) FROM pgaudit_kit.event e
                       WHERE e.id = ANY (v_ids) AND e.xid = v_new_xid);
  IF v_new_xid = v_last_xid THEN
    v_xid_sealed := v_xid_sealed + v_taken_of_last;
  ELSE
    v_last_xid := v_new_xid;
    v_xid_sealed := v_taken_of_last;
    -- the transaction has ended (its xid is below the horizon): this is all it will ever have
    v_xid_events := (SELECT pg_catalog.count(*) FROM pgaudit_kit.event e WHERE e.xid = v_last_xid);
  END IF;
  -- RFC 9162 append, leaf by leaf: merge equal-sized subtrees while the index is odd.
  FOR i IN 1 .. v_count LOOP
    v_node := v_leaves[i];
    v_index := v_size;
    WHILE v_index % 2 = 1 LOOP
      v_node := pg_catalog.sha256('\x01'::bytea || v_frontier[pg_catalog.cardinality(v_frontier)] || v_node);
      v_frontier := v_frontier[1:pg_catalog.cardinality(v_frontier) - 1];
      v_index := v_index / 2;
    END LOOP;
    v_frontier := v_frontier || v_node;
    v_size := v_size + 1;
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
  RETURN v_count;
END
$fn$;
ALTER FUNCTION pgaudit_kit.seal(integer, boolean) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.seal(integer, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.seal(integer, boolean) IS
    'pgaudit-kit: seal the next committed events below the xid horizon into one block';

-- pgaudit-kit v2: pgaudit_kit.seal_at_commit() -- deferred constraint trigger on pgaudit_kit.transaction,
-- so it runs once per audited transaction, at commit. It seals at most every 200 ms, only under READ
-- COMMITTED (a REPEATABLE READ / SERIALIZABLE writer must not see extra serialization failures), only
-- if the sealing lock is free (never waits for another writer), and at most 2000 events at a time:
-- up to 10,000 events a second, about 30 ms on one commit in five per second. A sealing failure must not fail the business commit: it is reported as a WARNING and the
-- events stay recorded, unsealed, until the next seal (status reports the backlog).
CREATE FUNCTION pgaudit_kit.seal_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF pg_catalog.current_setting('transaction_isolation') <> 'read committed'
     OR EXISTS (SELECT FROM (SELECT b.sealed_at FROM pgaudit_kit.block b ORDER BY b.block_no DESC LIMIT 1) last
                 WHERE last.sealed_at > pg_catalog.clock_timestamp() - interval '200 milliseconds') THEN
    RETURN NULL;
  END IF;
  BEGIN
    PERFORM pgaudit_kit.seal(2000, false);
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pgaudit-kit: sealing postponed: %', SQLERRM;
  END;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.seal_at_commit() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.seal_at_commit() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.seal_at_commit() IS 'pgaudit-kit: piggy-backed sealing at commit (try-lock, bounded)';
CREATE CONSTRAINT TRIGGER pgaudit_kit_seal_at_commit AFTER INSERT ON pgaudit_kit.transaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pgaudit_kit.seal_at_commit();
ALTER TABLE pgaudit_kit.transaction ENABLE ALWAYS TRIGGER pgaudit_kit_seal_at_commit;

-- pgaudit-kit v2: pgaudit_kit.store_checkpoint(origin, tree_size, root, note) -- stores a checkpoint
-- signed by the client, after checking that it names a tree the database actually sealed.
CREATE FUNCTION pgaudit_kit.store_checkpoint(p_origin text, p_tree_size bigint, p_root bytea, p_note text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_id bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM pgaudit_kit.block b WHERE b.tree_size = p_tree_size AND b.root = p_root) THEN
    RAISE EXCEPTION 'pgaudit-kit: no sealed block has tree size % and that root', p_tree_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgaudit_kit.checkpoint (origin, tree_size, root, note) VALUES (p_origin, p_tree_size, p_root, p_note)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$fn$;
ALTER FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, text) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, text) IS
    'pgaudit-kit: store a client-signed checkpoint of a sealed tree';
