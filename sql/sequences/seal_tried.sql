-- pgaudit-kit: pgaudit_kit.seal_tried -- when (Unix epoch milliseconds) a writer's commit last tried to seal, so that
-- writers try at most every 200 ms (pgaudit_kit.seal_at_commit) and a transaction that starts within 200 ms of a
-- try queues no commit-time work at all (pgaudit_kit.commit_work_due). A sequence for the reasons of
-- pgaudit_kit.watch_lease: setval is not transactional, and reading it is an expression, not a query: with
-- writers sealing, most commits had queued and fired the commit-time trigger only to find by a query on the
-- block table that the log had been sealed a moment ago (93 k instructions per tpcb-like transaction).
CREATE SEQUENCE pgaudit_kit.seal_tried AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.seal_tried OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.seal_tried IS
    'pgaudit-kit: Unix time in milliseconds of the last sealing tried at a writer''s commit (at most one per 200 ms)';
