-- pgaudit-kit v4: live follow of new events (`pgaudit-kit watch`) through LISTEN/NOTIFY.
-- A watcher renews a lease every 20 s; while it is valid, audited transactions send notifications on the
-- channel pgaudit_kit_events at commit (at most one every 100 ms in all). A notification carries nothing:
-- the watcher reads what is new from the tables, with its own privileges and filters.
-- Never while max_prepared_transactions > 0: PostgreSQL refuses PREPARE TRANSACTION after NOTIFY, and a
-- watcher must never make a business transaction fail. Watchers then fall back to reading at intervals.
-- The kit's objects change only in a maintenance window (revision 0003's DDL guards). The migration opens
-- one for the revision; applied file by file (the MANIFEST), each file opens its own.
DO $maintenance$
BEGIN
  IF NOT pgaudit_kit.in_maintenance() THEN
    PERFORM pgaudit_kit.begin_maintenance('pgaudit-kit schema change: v4');
  END IF;
END
$maintenance$;
-- A window opened in this transaction wrote its transaction row, which leaves the deferred sealing trigger
-- pending on pgaudit_kit.transaction; PostgreSQL refuses CREATE INDEX and ALTER TABLE on a table with pending
-- trigger events, so run it now (SET CONSTRAINTS ... IMMEDIATE fires it) and defer it again.
SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit IMMEDIATE;
SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit DEFERRED;

-- pgaudit_kit.renew_watch_lease(seconds) -> boolean: extend the lease to now + seconds (1 .. 3600); never
-- shortens another watcher's. Returns false (and changes nothing) when notifications cannot be used.
CREATE FUNCTION pgaudit_kit.renew_watch_lease(p_seconds integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_until bigint;
BEGIN
  IF p_seconds IS NULL OR p_seconds < 1 OR p_seconds > 3600 THEN
    RAISE EXCEPTION 'pgaudit-kit: a watch lease lasts 1 to 3600 seconds, not %', p_seconds
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF pg_catalog.current_setting('max_prepared_transactions') <> '0' THEN
    RETURN false;
  END IF;
  v_until := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()))::bigint + p_seconds;
  IF v_until > (SELECT s.last_value FROM pgaudit_kit.watch_lease s) THEN
    PERFORM pg_catalog.setval('pgaudit_kit.watch_lease'::regclass, v_until);
  END IF;
  RETURN true;
END
$fn$;
ALTER FUNCTION pgaudit_kit.renew_watch_lease(integer) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.renew_watch_lease(integer) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.renew_watch_lease(integer) IS
    'pgaudit-kit: keep notifying watchers of new events for the next N seconds (false: notifications unavailable)';

-- pgaudit_kit.notify_watchers() -- deferred constraint trigger on pgaudit_kit.transaction, so it runs once
-- per audited transaction, at its commit. While the lease is valid it sends one notification, but at most
-- one every 100 ms across all transactions: a NOTIFY holds PostgreSQL's notification lock from before the
-- commit record until the end of the commit, so committers that notify commit one at a time (their WAL
-- flushes no longer grouped). A transaction that skips because another notified within 100 ms commits
-- within about that time of the notification it relies on, and the watcher reads again 250 ms after each
-- wake-up (and at its heartbeat), so it is seen. Costs one read of the lease when nobody watches.
CREATE FUNCTION pgaudit_kit.notify_watchers() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_now_ms bigint;
BEGIN
  IF (SELECT s.last_value FROM pgaudit_kit.watch_lease s) <= EXTRACT(epoch FROM pg_catalog.clock_timestamp())
     OR pg_catalog.current_setting('max_prepared_transactions') <> '0' THEN
    RETURN NULL;
  END IF;
  v_now_ms := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000)::bigint;
  IF v_now_ms - (SELECT s.last_value FROM pgaudit_kit.watch_notified s) >= 100 THEN
    PERFORM pg_catalog.setval('pgaudit_kit.watch_notified'::regclass, v_now_ms);
    PERFORM pg_catalog.pg_notify('pgaudit_kit_events', '');
  END IF;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.notify_watchers() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.notify_watchers() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.notify_watchers() IS
    'pgaudit-kit: at commit, notify watchers (channel pgaudit_kit_events) of new events, at most every 100 ms';
CREATE CONSTRAINT TRIGGER pgaudit_kit_notify_watchers AFTER INSERT ON pgaudit_kit.transaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pgaudit_kit.notify_watchers();
ALTER TABLE pgaudit_kit.transaction ENABLE ALWAYS TRIGGER pgaudit_kit_notify_watchers;
