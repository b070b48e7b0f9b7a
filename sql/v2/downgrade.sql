-- pgaudit-kit v2 downgrade: removes the sealed log (blocks, checkpoints, sealing functions) and puts
-- back v1's event index.
DROP TRIGGER pgaudit_kit_seal_at_commit ON pgaudit_kit.transaction;
DROP FUNCTION pgaudit_kit.rebind_enrolments();
DROP FUNCTION pgaudit_kit.seal_at_commit();
DROP FUNCTION pgaudit_kit.store_checkpoint(text, bigint, bytea, text);
DROP FUNCTION pgaudit_kit.seal(integer, boolean);
DROP FUNCTION pgaudit_kit.block_hash_input(bigint, bigint, bigint, bytea, xid8, bigint, bigint, bigint, bytea,
                                           timestamptz);
DROP FUNCTION pgaudit_kit.event_leaf_input(pgaudit_kit.event, pgaudit_kit.transaction);
DROP FUNCTION pgaudit_kit.leaf_field(bytea);
DROP TABLE pgaudit_kit.checkpoint;
DROP TABLE pgaudit_kit.block;
DROP INDEX pgaudit_kit.event_xid_id_idx;
CREATE INDEX event_xid_idx ON pgaudit_kit.event (xid);
