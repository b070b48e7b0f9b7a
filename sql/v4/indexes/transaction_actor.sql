-- pgaudit-kit v4: pgaudit_kit.transaction_actor_idx -- transactions by claimed application actor.
-- Serves `log --actor A` (with or without a time window): the actor's transactions are found directly,
-- then their events through event_xid_id_idx, so the cost follows the actor's activity, not the size of
-- the log or of the window. Partial: transactions without an actor cost nothing here. Together with the
-- two role indexes it lets the planner combine the three (BitmapOr), as --actor matches any of them.
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
CREATE INDEX transaction_actor_idx ON pgaudit_kit.transaction (actor) WHERE actor IS NOT NULL;
