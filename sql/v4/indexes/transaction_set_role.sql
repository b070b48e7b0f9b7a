-- pgaudit-kit v4: pgaudit_kit.transaction_set_role_idx -- transactions whose login role acted as another
-- (SET ROLE). Serves `log --actor ROLE` for the login role of such transactions: where the two are equal,
-- transaction_acting_role_idx already finds them, so only the others are indexed (usually next to none).
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
CREATE INDEX transaction_set_role_idx ON pgaudit_kit.transaction (session_role) WHERE session_role <> acting_role;
