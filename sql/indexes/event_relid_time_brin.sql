-- pgaudit-kit: pgaudit_kit.event_relid_time_brin -- one block-range (BRIN) index of two columns: for each range of
-- 32 heap pages (about 1,000 events), a bloom filter of relid (which tables it may hold events of) and the span
-- of statement_ts.
-- relid serves `log --table T` for a table with few events among many: only the ranges that hold its events are
-- read. A busy table needs no index: its newest events are found by reading the log backwards (event_pkey), which
-- the planner prefers by itself. A B-tree on (relid, id) would serve both, at one more entry per event (about 32
-- bytes, and its insert) on every captured row.
-- statement_ts serves every time window: `log --since/--until` (with --table, --actor, --context or alone) and
-- `watch --since`. Events are appended in time order, so each range covers a short span of time and a window
-- reads only the ranges that overlap it. Either column is used alone or both together (a table's events in a
-- window: the ranges that pass both).
-- One index and not two (revision 0014): a BRIN insert itself costs next to nothing (no entry per event; a new
-- range is summarised by autovacuum, and until then it is simply read), but every index of the event table is
-- opened, prepared and closed at each captured row's INSERT: the second cost 30 k instructions of 1,384 k per
-- tpcb-like transaction (bench/RESULTS.md).
CREATE INDEX event_relid_time_brin ON pgaudit_kit.event
    USING brin (relid oid_bloom_ops (n_distinct_per_range = 64, false_positive_rate = 0.01), statement_ts)
    WITH (pages_per_range = 32, autosummarize = on);
