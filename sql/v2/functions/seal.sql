-- pgaudit-kit v2: pgaudit_kit.seal(max_events, wait) -> integer (events sealed)
-- Appends one block: the committed events after the last sealed position, in (xid, id) order, whose
-- transaction id is below the horizon pg_snapshot_xmin(pg_current_snapshot()). Every transaction with
-- a smaller xid has finished, so no event can ever appear before the sealed position afterwards: the
-- sealed prefix is final and a long-running transaction delays sealing without reordering it.
-- One advisory lock serialises sealers: wait => true blocks for it (the `seal` command), false gives up
-- at once (sealing piggy-backed on a writer's commit never waits for another writer).
-- A block never splits a transaction: max_events is rounded up to the end of the last transaction
-- taken, so every event of a sealed xid is sealed, and an event with an xid at or below the last sealed
-- one that is not in the log is a forgery: it is never sealed (verify reports it as event_inserted).
CREATE FUNCTION pgaudit_kit.block_hash_input(p_block_no bigint, p_first_seq bigint, p_tree_size bigint,
                                             p_root bytea, p_last_xid xid8, p_last_event_id bigint,
                                             p_prev_hash bytea, p_sealed_at timestamptz) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT '\x5047414b424c3031'::bytea
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_block_no::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_first_seq::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_tree_size::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(p_root)
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_last_xid::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(p_last_event_id::text, 'UTF8'))
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(p_prev_hash)
    OPERATOR(pg_catalog.||) pgaudit_kit.leaf_field(pg_catalog.convert_to(
           (EXTRACT(epoch FROM p_sealed_at) * 1000000)::bigint::text, 'UTF8'))
$fn$;
ALTER FUNCTION pgaudit_kit.block_hash_input(bigint, bigint, bigint, bytea, xid8, bigint, bytea, timestamptz)
    OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.block_hash_input(bigint, bigint, bigint, bytea, xid8, bigint, bytea, timestamptz) IS
    'pgaudit-kit: canonical encoding v1 of a block (hashed into block_hash)';

CREATE FUNCTION pgaudit_kit.seal(p_max_events integer DEFAULT 10000, p_wait boolean DEFAULT true) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_last pgaudit_kit.block%ROWTYPE;
  v_frontier bytea[] := '{}';
  v_size bigint := 0;
  v_first bigint;
  v_last_xid xid8 := '0';
  v_cut_xid xid8;
  v_last_id bigint := 0;
  v_block_no bigint := 0;
  v_prev bytea;
  v_ids bigint[] := '{}';
  v_leaves bytea[] := '{}';
  v_leaf_bytes bytea;
  v_node bytea;
  v_index bigint;
  v_root bytea;
  v_count integer := 0;
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
    v_block_no := v_last.block_no + 1;
    v_prev := v_last.block_hash;
  END IF;
  v_first := v_size;
  SELECT c.xid INTO v_cut_xid
    FROM (SELECT e.xid FROM pgaudit_kit.event e
           WHERE e.xid > v_last_xid
             AND e.xid < pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
           ORDER BY e.xid, e.id LIMIT p_max_events) c
   ORDER BY c.xid DESC LIMIT 1;
  IF v_cut_xid IS NULL THEN
    RETURN 0;
  END IF;
  -- The batch, set-based: ids, leaf hashes and their concatenation in (xid, id) order.
  SELECT pg_catalog.array_agg(b.id ORDER BY b.xid, b.id), pg_catalog.array_agg(b.leaf ORDER BY b.xid, b.id),
         pg_catalog.string_agg(b.leaf, ''::bytea ORDER BY b.xid, b.id), pg_catalog.count(*)
    INTO v_ids, v_leaves, v_leaf_bytes, v_count
    FROM (SELECT e.id, e.xid,
                 pg_catalog.sha256('\x00'::bytea OPERATOR(pg_catalog.||) pgaudit_kit.event_leaf_input(e, t)) AS leaf
            FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
           WHERE e.xid > v_last_xid AND e.xid <= v_cut_xid) b;
  IF v_count > 0 THEN
    SELECT e.xid, e.id INTO v_last_xid, v_last_id FROM pgaudit_kit.event e WHERE e.id = v_ids[v_count];
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
  IF v_count = 0 THEN
    RETURN 0;
  END IF;
  v_root := v_frontier[pg_catalog.cardinality(v_frontier)];
  FOR i IN REVERSE pg_catalog.cardinality(v_frontier) - 1 .. 1 LOOP
    v_root := pg_catalog.sha256('\x01'::bytea || v_frontier[i] || v_root);
  END LOOP;
  INSERT INTO pgaudit_kit.block (block_no, first_seq, tree_size, root, frontier, last_xid, last_event_id, event_ids,
                                 leaves, prev_hash, block_hash, sealed_at)
  VALUES (v_block_no, v_first, v_size, v_root, v_frontier, v_last_xid, v_last_id, v_ids,
          v_leaf_bytes,
          v_prev,
          pg_catalog.sha256(pgaudit_kit.block_hash_input(v_block_no, v_first, v_size, v_root, v_last_xid, v_last_id,
                                                         v_prev, v_now)),
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
-- if the sealing lock is free (never waits for another writer), and about 2000 events at a time
-- (rounded up to whole transactions): up to 10,000 events a second, about 30 ms on one commit in five
-- per second. A sealing failure must not fail the business commit: it is reported as a WARNING and the
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
