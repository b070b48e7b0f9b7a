-- pgaudit-kit: pgaudit_kit.recorded_xact -- the transaction whose who/where row this session wrote last, read
-- back with currval(): the half of pgaudit_kit.transaction_recorded() that nobody but the kit can forge.
-- PostgreSQL keeps currval() per session, and only the kit owner may call setval() on it, so no other role
-- can make it name its transaction. Its shared value is meaningless (every writer overwrites it).
-- A sequence, not a table: capture reads it without touching a table that other writers write, so
-- SERIALIZABLE transactions gain no predicate locks (and no serialization failures) from it.
CREATE SEQUENCE pgaudit_kit.recorded_xact AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.recorded_xact OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.recorded_xact IS
    'pgaudit-kit: per session (currval), the transaction whose who/where row the kit wrote last';
