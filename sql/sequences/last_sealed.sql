-- pgaudit-kit: pgaudit_kit.last_sealed -- when (Unix epoch milliseconds) the newest block was sealed
-- (pgaudit_kit.seal sets it), so that writers sealing at their commit seal at most every 200 ms
-- (pgaudit_kit.seal_at_commit) and a transaction that starts within 200 ms of a seal queues no commit-time work at
-- all (pgaudit_kit.commit_work_due). A sequence for the reasons of pgaudit_kit.watch_lease: setval is not
-- transactional (a seal in progress counts as soon as its block is written), and reading it is an expression, not
-- a query: before it, most commits queued and fired the commit-time trigger only to find by a query on the block
-- table that the log had been sealed a moment ago (93 k instructions per tpcb-like transaction).
CREATE SEQUENCE pgaudit_kit.last_sealed AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.last_sealed OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.last_sealed IS
    'pgaudit-kit: Unix time in milliseconds when the newest block was sealed (writers seal at most every 200 ms)';
