-- pgaudit-kit: pgaudit_kit.block -- the sealed log: each row seals the next run of committed events
-- (in (xid, id) order) into the RFC 9162 Merkle tree and is chained to the previous block by hash.
-- Sequence numbers are positions in the tree: the events of block b have seq first_seq .. tree_size-1,
-- in the order of event_ids. leaves holds their 32-byte leaf hashes, concatenated, so that a verifier
-- can name the exact event that no longer matches what was sealed. The encoding of leaves and of the
-- block hash is specified in docs/ENCODING.md.
CREATE TABLE pgaudit_kit.block (
    block_no      bigint PRIMARY KEY CHECK (block_no >= 0),
    first_seq     bigint NOT NULL CHECK (first_seq >= 0),
    tree_size     bigint NOT NULL,
    root          bytea NOT NULL CHECK (pg_catalog.length(root) = 32),
    frontier      bytea[] NOT NULL,
    last_xid      xid8 NOT NULL,
    last_event_id bigint NOT NULL,
    last_xid_events bigint NOT NULL,
    last_xid_sealed bigint NOT NULL CHECK (last_xid_sealed BETWEEN 1 AND last_xid_events),
    event_ids     bigint[] NOT NULL,
    leaves        bytea NOT NULL,
    prev_hash     bytea CHECK (pg_catalog.length(prev_hash) = 32),
    block_hash    bytea NOT NULL CHECK (pg_catalog.length(block_hash) = 32),
    sealed_at     timestamptz NOT NULL,
    CHECK (tree_size = first_seq + pg_catalog.cardinality(event_ids)),
    CHECK (pg_catalog.length(leaves) = 32 * pg_catalog.cardinality(event_ids)),
    CHECK ((block_no = 0) = (prev_hash IS NULL))
);
ALTER TABLE pgaudit_kit.block OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.block IS 'pgaudit-kit: sealed log blocks: Merkle tree size and root, chained by hash';
COMMENT ON COLUMN pgaudit_kit.block.frontier IS 'Roots of the perfect subtrees of the tree, largest first (RFC 9162 compact range)';
COMMENT ON COLUMN pgaudit_kit.block.last_xid_events IS
    'Events of last_xid when it was first sealed: a transaction that has ended cannot gain events';
COMMENT ON COLUMN pgaudit_kit.block.last_xid_sealed IS 'How many of them are sealed up to this block';
COMMENT ON COLUMN pgaudit_kit.block.leaves IS 'Leaf hashes of event_ids, 32 bytes each, in seq order';
COMMENT ON COLUMN pgaudit_kit.block.block_hash IS 'SHA-256 of the block''s canonical encoding (docs/ENCODING.md)';
GRANT SELECT ON pgaudit_kit.block TO pgaudit_kit_admin, pgaudit_kit_reader;
