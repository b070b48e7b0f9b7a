-- pgaudit-kit: pgaudit_kit.seal_lease -- until when (Unix epoch seconds) a `pgaudit-kit seal --follow`
-- process seals the log. While it lies in the future, audited transactions leave sealing to that process
-- instead of sealing at their own commit (pgaudit_kit.seal_at_commit), which keeps sealing out of the
-- writers' commit path and outside the time they hold their row locks; when the follower stops (or dies and
-- its lease runs out) writers seal again. A sequence for the reasons of pgaudit_kit.watch_lease: setval is
-- not transactional, and reading it takes no lock and no SERIALIZABLE predicate lock.
CREATE SEQUENCE pgaudit_kit.seal_lease AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.seal_lease OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.seal_lease IS
    'pgaudit-kit: Unix time until which a seal --follow process seals (writers do not seal at commit until then)';
-- status shows who seals; SELECT on a sequence reads it, it cannot move it
GRANT SELECT ON SEQUENCE pgaudit_kit.seal_lease TO pgaudit_kit_admin, pgaudit_kit_reader;
