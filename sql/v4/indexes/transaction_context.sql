-- pgaudit-kit v4: pgaudit_kit.transaction_context_idx -- GIN (jsonb_path_ops) of the application
-- context. Serves `log --context KEY=VALUE` (e.g. request_id=...): correlates the transactions of one
-- request without reading every transaction. Partial: transactions without context cost nothing.
-- fastupdate off: each insert pays its own small cost, rather than one unlucky writer paying for
-- merging a pending list of thousands of entries.
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
CREATE INDEX transaction_context_idx ON pgaudit_kit.transaction USING gin (context jsonb_path_ops)
    WITH (fastupdate = off) WHERE context IS NOT NULL;
