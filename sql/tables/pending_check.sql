-- pgaudit-kit: pgaudit_kit.pending_check -- one row per transaction that ran DDL, so that the
-- invariants are checked once, at commit, by a deferred constraint trigger. The kit's own operations
-- pass through states that are only complete at their end (triggers dropped and re-created), so whole
-- invariants are judged on the final state; what the kit never does is refused at once by the event
-- trigger. A scratch table: the check deletes its own row.
CREATE TABLE pgaudit_kit.pending_check (
    xid xid8 PRIMARY KEY
);
ALTER TABLE pgaudit_kit.pending_check OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.pending_check IS 'pgaudit-kit: transactions whose DDL is checked at commit (scratch)';
