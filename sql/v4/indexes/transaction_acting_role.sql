-- pgaudit-kit v4: pgaudit_kit.transaction_acting_role_idx -- transactions by the role in effect.
-- Serves `log --actor ROLE` for a database role (a DBA's own writes among an application's). There are
-- few roles, so B-tree deduplication keeps this small; for the application's own role, which is in most
-- transactions, the planner reads the log newest first instead.
-- Write cost: one entry per transaction (not per event).
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
CREATE INDEX transaction_acting_role_idx ON pgaudit_kit.transaction (acting_role);
