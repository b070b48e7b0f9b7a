-- pgaudit-kit v4: pgaudit_kit.watch_notified -- when (Unix epoch milliseconds) a transaction last notified
-- watchers, so that notifications are sent at most every 100 ms (see pgaudit_kit.notify_watchers). A
-- sequence for the same reasons as pgaudit_kit.watch_lease: not transactional, read whatever the snapshot.
-- The kit's objects change only in a maintenance window (revision 0003's DDL guards). The migration opens
-- one for the revision; applied file by file (the MANIFEST), each file opens its own.
DO $maintenance$
BEGIN
  IF NOT pgaudit_kit.in_maintenance() THEN
    PERFORM pgaudit_kit.begin_maintenance('pgaudit-kit schema change: v4');
  END IF;
END
$maintenance$;
CREATE SEQUENCE pgaudit_kit.watch_notified AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.watch_notified OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.watch_notified IS
    'pgaudit-kit: Unix time in milliseconds of the last notification to watchers (at most one per 100 ms)';
