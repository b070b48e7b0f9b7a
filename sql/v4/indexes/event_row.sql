-- pgaudit-kit v4: pgaudit_kit.event_row_idx -- the events of one row: (table, hash of the primary key).
-- Serves `history TABLE PK` (the row's timeline, and --as-of) and `log --table T --pk VALUE`: an
-- equality lookup that reads only that row's events (and the rare ones sharing its 32-bit hash, which the
-- query's own `pk = value` drops). Keyed by the hash, not the jsonb: 4 bytes instead of the whole key
-- (an index tuple of 16 bytes instead of about 40) and cheap comparisons. jsonb_hash is the hash of
-- jsonb's hash operator class, which hash indexes store, so its values do not change under a pg_upgrade.
-- Partial: events without a primary key (tables without one, DDL, control and review events) are never
-- looked up this way and cost nothing here. Repeated events of one row share an entry (deduplication).
-- Write cost: an insert at the key's place in the index, i.e. anywhere; the main cost of the review
-- indexes (bench/RESULTS.md, "Review").
-- The kit's objects change only in a maintenance window (revision 0003's DDL guards). The migration opens
-- one for the revision; applied file by file (the MANIFEST), each file opens its own.
DO $maintenance$
BEGIN
  IF NOT pgaudit_kit.in_maintenance() THEN
    PERFORM pgaudit_kit.begin_maintenance('pgaudit-kit schema change: v4');
  END IF;
END
$maintenance$;
CREATE INDEX event_row_idx ON pgaudit_kit.event (relid, pg_catalog.jsonb_hash(pk)) WHERE pk IS NOT NULL;
