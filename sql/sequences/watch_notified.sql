-- pgaudit-kit: pgaudit_kit.watch_notified -- when (Unix epoch milliseconds) a transaction last notified
-- watchers, so that notifications are sent at most every 100 ms (see pgaudit_kit.notify_watchers). A
-- sequence for the same reasons as pgaudit_kit.watch_lease: not transactional, read whatever the snapshot.
CREATE SEQUENCE pgaudit_kit.watch_notified AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.watch_notified OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.watch_notified IS
    'pgaudit-kit: Unix time in milliseconds of the last notification to watchers (at most one per 100 ms)';
