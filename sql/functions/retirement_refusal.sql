-- pgaudit-kit: pgaudit_kit.retirement_refusal(block_no) -- why the sealed log through the end of block block_no
-- may not leave the database now, or NULL when it may: the block exists, a signed checkpoint of the tree at its
-- end is stored (so the prefix that leaves stays provable and the rest is proven to extend it), a retention
-- period is set, and every block up to it was sealed at least that long ago. pgaudit_kit.retire asks it before
-- it deletes anything, and the guard that lets the deletes through asks it again
-- (pgaudit_kit.refuse_unretired_removal): a row written into pgaudit_kit.retirement by hand gains nothing.
CREATE OR REPLACE FUNCTION pgaudit_kit.retirement_refusal(p_block_no bigint) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_tree_size bigint;
  v_root bytea;
  v_min_age interval;
  v_sealed_at timestamptz;
BEGIN
  SELECT b.tree_size, b.root INTO v_tree_size, v_root FROM pgaudit_kit.block b WHERE b.block_no = p_block_no;
  IF NOT FOUND THEN
    RETURN pg_catalog.format('block %s of the sealed log does not exist', p_block_no);
  END IF;
  IF NOT EXISTS (SELECT FROM pgaudit_kit.checkpoint c WHERE c.tree_size = v_tree_size AND c.root = v_root) THEN
    RETURN pg_catalog.format('no signed checkpoint of tree size %s is stored (run: pgaudit-kit checkpoint)', v_tree_size);
  END IF;
  SELECT pg_catalog.max(r.min_age) INTO v_min_age FROM pgaudit_kit.retention r;
  IF v_min_age IS NULL THEN
    RETURN 'no retention period is set (run: pgaudit-kit retention --set PERIOD)';
  END IF;
  SELECT pg_catalog.max(b.sealed_at) INTO v_sealed_at FROM pgaudit_kit.block b WHERE b.block_no <= p_block_no;
  IF v_sealed_at > pg_catalog.now() - v_min_age THEN
    RETURN pg_catalog.format('history through tree size %s was sealed at %s, within the retention period of %s: '
                             'it may be retired from %s', v_tree_size,
                             pg_catalog.to_char(v_sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_min_age,
                             pg_catalog.to_char((v_sealed_at + v_min_age) AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
  END IF;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.retirement_refusal(bigint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.retirement_refusal(bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.retirement_refusal(bigint) IS
    'pgaudit-kit: why the sealed log through a block may not be retired now (NULL: it may)';
GRANT EXECUTE ON FUNCTION pgaudit_kit.retirement_refusal(bigint) TO pgaudit_kit_admin;
