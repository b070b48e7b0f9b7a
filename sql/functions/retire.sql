-- pgaudit-kit: pgaudit_kit.retire(tree_size, archive_sha256) -- removes the sealed log's first tree_size events
-- from the database, once they are archived (the client checks the archive, whose manifest digest is recorded)
-- and pgaudit_kit.retirement_refusal allows it: a block ends there, a signed checkpoint of that tree is stored,
-- and it is older than the retention period. First it records the retirement (a control event of the log, and a
-- row of pgaudit_kit.retirement that lets the guards pass these deletes, and no others) and restates enrolment;
-- then it removes the events (whole partitions where it can: pgaudit_kit.retire_events), the transaction records left without events, the blocks before the last one
-- retired and the checkpoints of smaller trees. The last block stays: its hash, root and frontier are where verify and the
-- proofs start from. Returns how many events left.
CREATE OR REPLACE FUNCTION pgaudit_kit.retire(p_tree_size bigint, p_archive_sha256 text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_by text := pgaudit_kit.acted_by();
  v_block record;
  v_done bigint;
  v_refusal text;
  v_min_age interval;
  v_removed bigint;
BEGIN
  IF p_archive_sha256 IS NULL OR p_archive_sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'pgaudit-kit: the archive''s digest must be 64 lowercase hexadecimal digits'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- one retirement at a time: each starts where the one before it ended
  LOCK TABLE pgaudit_kit.retirement IN SHARE ROW EXCLUSIVE MODE;
  SELECT b.block_no, b.tree_size, b.block_hash, b.last_xid, b.last_event_id INTO v_block
    FROM pgaudit_kit.block b WHERE b.tree_size = p_tree_size AND b.tree_size > b.first_seq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgaudit-kit: no sealed block ends at tree size %: retire through the end of an archive', p_tree_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT pg_catalog.max(r.tree_size) INTO v_done FROM pgaudit_kit.retirement r;
  IF v_done >= p_tree_size THEN
    RAISE EXCEPTION 'pgaudit-kit: the log is already retired through tree size %', v_done
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_refusal := pgaudit_kit.retirement_refusal(v_block.block_no);
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION 'pgaudit-kit: refused: %', v_refusal USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT pg_catalog.max(r.min_age) INTO v_min_age FROM pgaudit_kit.retention r;
  PERFORM pgaudit_kit.record_control_event('retire', NULL, NULL, NULL, pg_catalog.jsonb_build_object(
    'block_no', v_block.block_no, 'tree_size', p_tree_size, 'block_hash', pg_catalog.encode(v_block.block_hash, 'hex'),
    'archive_sha256', p_archive_sha256, 'min_age', v_min_age::text));
  -- what the retired control events said about enrolment, said again after the boundary: verify compares
  -- enrolment with the log, whose earlier enable events are about to leave
  PERFORM pgaudit_kit.record_control_event('enrolled', et.relid, et.schema_name, et.table_name,
            pg_catalog.jsonb_build_object('options', pg_catalog.jsonb_build_object(
              'excluded_columns', et.excluded_columns, 'redacted_columns', et.redacted_columns,
              'truncate', et.truncate_policy, 'capture_statement', et.capture_statement, 'capture_mode', et.capture_mode)))
     FROM pgaudit_kit.enrolled_table et ORDER BY et.schema_name, et.table_name;
  INSERT INTO pgaudit_kit.retirement (block_no, tree_size, block_hash, archive_sha256, min_age, retired_by)
  VALUES (v_block.block_no, p_tree_size, v_block.block_hash, p_archive_sha256, v_min_age, v_by);
  v_removed := pgaudit_kit.retire_events(v_block.last_xid, v_block.last_event_id);
  DELETE FROM pgaudit_kit.transaction t
   WHERE t.xid <= v_block.last_xid
     AND NOT EXISTS (SELECT FROM pgaudit_kit.event e WHERE e.xid = t.xid)
     AND NOT EXISTS (SELECT FROM pgaudit_kit.event_chunk c WHERE c.xid = t.xid);
  DELETE FROM pgaudit_kit.block b WHERE b.block_no < v_block.block_no;
  DELETE FROM pgaudit_kit.checkpoint c WHERE c.tree_size < p_tree_size;
  RETURN v_removed;
END
$fn$;
ALTER FUNCTION pgaudit_kit.retire(bigint, text) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.retire(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.retire(bigint, text) IS
    'pgaudit-kit: remove archived, checkpointed history older than the retention period (admin; recorded)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.retire(bigint, text) TO pgaudit_kit_admin;
