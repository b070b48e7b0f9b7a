-- pgaudit_kit.commit_work_due() -- the WHEN clause of the commit-time trigger pgaudit_kit_seal_at_commit: has
-- this transaction's commit anything to do? Yes while a watcher's lease is valid (notify it); and, while no
-- `seal --follow` process holds the seal lease, when the transaction may seal (READ COMMITTED: a REPEATABLE READ or
-- SERIALIZABLE writer never seals, see pgaudit_kit.seal_at_commit) and no block was sealed in the last 200 ms
-- (pgaudit_kit.last_sealed). Evaluated when the transaction's who/where row is written, by its first audited
-- write (its isolation level is fixed by then); when false, no trigger event is queued at all, which is the point:
-- queueing and firing a deferred trigger that then returns at once cost 78-93 k instructions per tpcb-like
-- transaction (bench/RESULTS.md), about a tenth of the kit's work. A lease that starts or ends while the
-- transaction runs counts from its next transaction; a transaction that skips because the log was sealed within
-- 200 ms of its first write leaves its events to the next seal, as a commit within 200 ms of one always did.
-- PL/pgSQL, not SQL: PostgreSQL plans a trigger's WHEN clause anew for every statement, and would inline an SQL
-- function there, parsing its body each time (a tenth of a tpcb transaction's cost when it was tried); a
-- PL/pgSQL function keeps its plan for the session. It runs as the kit owner (who writes the who/where row), and
-- nobody else may call it; not SECURITY DEFINER, so it needs no pinned search_path (every name is qualified).
CREATE OR REPLACE FUNCTION pgaudit_kit.commit_work_due() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_now double precision := EXTRACT(epoch FROM pg_catalog.clock_timestamp());
BEGIN
  -- three statements, not one expression: PL/pgSQL prepares an expression at its first use in a transaction,
  -- and with a follower sealing only the first two are used (13 k instructions a transaction as one expression)
  IF pg_catalog.pg_sequence_last_value('pgaudit_kit.watch_lease'::pg_catalog.regclass) OPERATOR(pg_catalog.>) v_now THEN
    RETURN true;
  ELSIF pg_catalog.pg_sequence_last_value('pgaudit_kit.seal_lease'::pg_catalog.regclass) OPERATOR(pg_catalog.>) v_now THEN
    RETURN false;
  END IF;
  RETURN COALESCE(pg_catalog.pg_sequence_last_value('pgaudit_kit.last_sealed'::pg_catalog.regclass), 0)
           OPERATOR(pg_catalog.<=) (v_now OPERATOR(pg_catalog.*) 1000 OPERATOR(pg_catalog.-) 200)
     AND pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.=) 'read committed';
END
$fn$;
ALTER FUNCTION pgaudit_kit.commit_work_due() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.commit_work_due() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.commit_work_due() IS
    'pgaudit-kit: whether a commit must notify watchers or seal (the WHEN clause of the commit-time trigger)';
