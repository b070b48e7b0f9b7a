-- pgaudit_kit.seal_at_commit() -- deferred constraint trigger on pgaudit_kit.transaction, so it runs once per
-- audited transaction, at its commit, and never makes that commit fail.
-- Watchers: while a watcher's lease is valid, send one notification on pgaudit_kit_events, at most one every
-- 100 ms across all transactions (a NOTIFY holds PostgreSQL's notification lock from before the commit record
-- to the end of the commit, so committers that notify commit one at a time). Never while
-- max_prepared_transactions > 0: PREPARE TRANSACTION is refused after NOTIFY. A transaction that skips because
-- another notified within 100 ms commits within about that time of it, and the watcher reads again 250 ms
-- after each wake-up, so it is seen.
-- Sealing: never while a `seal --follow` process holds the seal lease (pgaudit_kit.seal_lease: sealing is then
-- out of the writers' commit path); otherwise at most every 200 ms (pgaudit_kit.last_sealed: when the newest block
-- was sealed), only under READ COMMITTED (a REPEATABLE READ / SERIALIZABLE writer must not see extra
-- serialization failures), only if the sealing lock is free (never waits for another writer), at most 2000 events
-- at a time. The same conditions keep the trigger from being queued at all (pgaudit_kit.commit_work_due); they are
-- checked again here because time has passed since. A sealing failure is reported as a
-- WARNING; the events stay recorded, unsealed, until the next seal (status reports the backlog).
-- Leases and the newest block's time are read with pg_sequence_last_value(), a plain expression rather than a
-- query (NULL until first set, which compares as no lease): a commit that does not seal runs no query here.
CREATE OR REPLACE FUNCTION pgaudit_kit.seal_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_now double precision := EXTRACT(epoch FROM pg_catalog.clock_timestamp());
  v_now_ms bigint;
BEGIN
  IF pg_catalog.pg_sequence_last_value('pgaudit_kit.watch_lease'::regclass) > v_now
     AND pg_catalog.current_setting('max_prepared_transactions') = '0' THEN
    v_now_ms := pg_catalog.floor(v_now * 1000)::bigint;
    IF v_now_ms - pg_catalog.pg_sequence_last_value('pgaudit_kit.watch_notified'::regclass) >= 100
       OR pg_catalog.pg_sequence_last_value('pgaudit_kit.watch_notified'::regclass) IS NULL THEN
      PERFORM pg_catalog.setval('pgaudit_kit.watch_notified'::regclass, v_now_ms);
      PERFORM pg_catalog.pg_notify('pgaudit_kit_events', '');
    END IF;
  END IF;
  IF pg_catalog.pg_sequence_last_value('pgaudit_kit.seal_lease'::regclass) > v_now
     OR pg_catalog.current_setting('transaction_isolation') <> 'read committed'
     OR COALESCE(pg_catalog.pg_sequence_last_value('pgaudit_kit.last_sealed'::regclass), 0) > v_now * 1000 - 200 THEN
    RETURN NULL;
  END IF;
  BEGIN
    PERFORM pgaudit_kit.seal(2000, false);
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pgaudit-kit: sealing postponed: %', SQLERRM;
  END;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.seal_at_commit() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.seal_at_commit() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.seal_at_commit() IS
    'pgaudit-kit: at commit, notify watchers (at most every 100 ms) and seal unless a follower does (try-lock, bounded)';
