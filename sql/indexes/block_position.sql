-- pgaudit-kit: pgaudit_kit.block_position_idx -- the sealed position (last sealed transaction and event) of
-- each block: sealing resumes after the newest one, verify and proofs find a block by position.
CREATE INDEX block_position_idx ON pgaudit_kit.block (last_xid, last_event_id);
