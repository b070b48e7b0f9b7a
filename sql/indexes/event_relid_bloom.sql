-- pgaudit-kit: pgaudit_kit.event_relid_bloom -- block-range (BRIN) bloom filter of relid: for each
-- range of 32 heap pages (about 1,000 events), which tables it may hold events of.
-- Serves `log --table T` for a table with few events among many: only the ranges that hold its events are
-- read. A busy table needs no index: its newest events are found by reading the log backwards (event_pkey),
-- which the planner prefers by itself. A B-tree on (relid, id) would serve both, at one more entry per
-- event (about 32 bytes, and its insert) on every captured row; this costs next to nothing.
CREATE INDEX event_relid_bloom ON pgaudit_kit.event
    USING brin (relid oid_bloom_ops (n_distinct_per_range = 64, false_positive_rate = 0.01))
    WITH (pages_per_range = 32, autosummarize = on);
