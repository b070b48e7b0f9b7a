"""v2: the sealed log -- canonical event encoding, Merkle blocks chained by hash, sealing (on demand and
piggy-backed at commit), client-signed checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes) and what it removed. Functions, views, triggers, policies and event triggers come from the
# current sql/ sources after the deltas (pgaudit_kit.schema.migration_support).
DELTA = """
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
-- pgaudit-kit: pgaudit_kit.checkpoint -- signed checkpoints (C2SP signed note over a tlog-checkpoint
-- body: origin, tree size, base64 root). Signed in the client with a key that never reaches the
-- server; a copy of each is also appended to the anchor directory outside the database.
CREATE TABLE pgaudit_kit.checkpoint (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin     text NOT NULL,
    tree_size  bigint NOT NULL,
    root       bytea NOT NULL CHECK (pg_catalog.length(root) = 32),
    note       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by text NOT NULL DEFAULT session_user
);
ALTER TABLE pgaudit_kit.checkpoint OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.checkpoint IS 'pgaudit-kit: signed checkpoints of the sealed log';
GRANT SELECT ON pgaudit_kit.checkpoint TO pgaudit_kit_admin, pgaudit_kit_reader;
-- pgaudit-kit: pgaudit_kit.block_position_idx -- the sealed position (last sealed transaction and event) of
-- each block: sealing resumes after the newest one, verify and proofs find a block by position.
CREATE INDEX block_position_idx ON pgaudit_kit.block (last_xid, last_event_id);
-- Sealing walks events in (xid, id) order from the last sealed position.
DROP INDEX pgaudit_kit.event_xid_idx;
-- pgaudit-kit: pgaudit_kit.event_xid_id_idx -- sealing walks events in (xid, id) order from the last
-- sealed position; review reads a transaction's events through it.
CREATE INDEX event_xid_id_idx ON pgaudit_kit.event (xid, id);
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
