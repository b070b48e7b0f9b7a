-- pgaudit-kit: pgaudit_kit.event_time_brin -- block-range (BRIN) index of statement_ts.
-- Serves every time window: `log --since/--until` (with --table, --actor, --context or alone) and
-- `watch --since`. Events are appended in time order, so each range of 32 heap pages (about 1,000
-- events) covers a short span of time and a window reads only the ranges that overlap it.
-- Write cost: next to nothing (no entry per event; a new range is summarised by autovacuum, and
-- until then it is simply read).
CREATE INDEX event_time_brin ON pgaudit_kit.event USING brin (statement_ts)
    WITH (pages_per_range = 32, autosummarize = on);
