-- pgaudit-kit: pgaudit_kit.seal(max_events, wait) -> integer (events sealed)
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
CREATE OR REPLACE FUNCTION pgaudit_kit.block_hash_input(p_block_no bigint, p_first_seq bigint, p_tree_size bigint,
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
