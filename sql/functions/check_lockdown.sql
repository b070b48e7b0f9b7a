-- pgaudit_kit.check_lockdown() -- true, or an error while the kit is locked down: asked once per transaction,
-- before its first audited write (capture, and pgaudit_kit.record_transaction() for the kit's own recording).
-- A transaction that had already written audited rows when the lockdown committed may finish; every one that
-- starts writing after it is refused. A database that never had a lockdown row skips the query: the identity
-- sequence of lockdown_event is then still unused (pg_sequence_last_value() is NULL; a lockdown draws from it
-- before its row exists), a check that reads no table (a query per transaction was about 5 us of its capture).
-- SQL, so that it is inlined into capture's expression: the query runs (refuse_while_locked_down) only where a
-- lockdown ever happened.
CREATE OR REPLACE FUNCTION pgaudit_kit.check_lockdown() RETURNS boolean
LANGUAGE sql VOLATILE AS $fn$
  SELECT CASE WHEN pg_catalog.pg_sequence_last_value('pgaudit_kit.lockdown_event_id_seq'::pg_catalog.regclass) IS NULL
              THEN true ELSE pgaudit_kit.refuse_while_locked_down() END
$fn$;
ALTER FUNCTION pgaudit_kit.check_lockdown() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.check_lockdown() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.check_lockdown() IS
    'pgaudit-kit: true, or an error while audited writes are locked down (no query unless a lockdown ever happened)';
