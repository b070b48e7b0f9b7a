-- pgaudit-kit: pgaudit_kit.watch_lease -- until when (Unix epoch seconds) a `pgaudit-kit watch` is
-- listening. Audited transactions send a notification only while it lies in the future, so a database
-- nobody watches never pays for NOTIFY (which serialises committers on the notification queue).
-- A sequence, not a table: setval is not transactional and a read of a sequence sees its current value
-- whatever the reader's snapshot, so a REPEATABLE READ writer that started before a watcher still
-- notices it. Written only by pgaudit_kit.renew_watch_lease; nobody but the owner may read it.
CREATE SEQUENCE pgaudit_kit.watch_lease AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.watch_lease OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.watch_lease IS
    'pgaudit-kit: Unix time until which a watcher listens for new events (notifications are sent until then)';
