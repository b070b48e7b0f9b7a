-- pgaudit-kit: pgaudit_kit.store_checkpoint(origin, tree_size, root, note) -- stores a checkpoint
-- signed by the client, after checking that it names a tree the database actually sealed. The note comes as its
-- UTF-8 bytes (docs/ENCODING.md §5), whatever the database's encoding.
CREATE OR REPLACE FUNCTION pgaudit_kit.store_checkpoint(p_origin text, p_tree_size bigint, p_root bytea, p_note bytea)
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
ALTER FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, bytea) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, bytea) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, bytea) IS
    'pgaudit-kit: store a client-signed checkpoint of a sealed tree';
GRANT EXECUTE ON FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, bytea) TO pgaudit_kit_admin;
