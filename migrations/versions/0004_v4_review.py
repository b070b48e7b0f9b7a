"""v4: review -- indexes for the review commands (log, history, tx) and notifications for watch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes) and what it removed. Functions, views, triggers, policies and event triggers come from the
# current sql/ sources after the deltas (pgaudit_kit.schema.migration_support).
DELTA = """
-- pgaudit-kit: pgaudit_kit.event_relid_bloom -- block-range (BRIN) bloom filter of relid: for each
-- range of 32 heap pages (about 1,000 events), which tables it may hold events of.
-- Serves `log --table T` for a table with few events among many: only the ranges that hold its events are
-- read. A busy table needs no index: its newest events are found by reading the log backwards (event_pkey),
-- which the planner prefers by itself. A B-tree on (relid, id) would serve both, at one more entry per
-- event (about 32 bytes, and its insert) on every captured row; this costs next to nothing.
CREATE INDEX event_relid_bloom ON pgaudit_kit.event
    USING brin (relid oid_bloom_ops (n_distinct_per_range = 64, false_positive_rate = 0.01))
    WITH (pages_per_range = 32, autosummarize = on);
-- pgaudit-kit: pgaudit_kit.event_row_idx -- the events of one row: (table, hash of the primary key).
-- Serves `history TABLE PK` (the row's timeline, and --as-of) and `log --table T --pk VALUE`: an
-- equality lookup that reads only that row's events (and the rare ones sharing its 32-bit hash, which the
-- query's own `pk = value` drops). Keyed by the hash, not the jsonb: 4 bytes instead of the whole key
-- (an index tuple of 16 bytes instead of about 40) and cheap comparisons. jsonb_hash is the hash of
-- jsonb's hash operator class, which hash indexes store, so its values do not change under a pg_upgrade.
-- Partial: events without a primary key (tables without one, DDL, control and review events) are never
-- looked up this way and cost nothing here. Repeated events of one row share an entry (deduplication).
-- Write cost: an insert at the key's place in the index, i.e. anywhere; the main cost of the review
-- indexes (bench/RESULTS.md, "Review").
CREATE INDEX event_row_idx ON pgaudit_kit.event (relid, pg_catalog.jsonb_hash(pk)) WHERE pk IS NOT NULL;
-- pgaudit-kit: pgaudit_kit.event_time_brin -- block-range (BRIN) index of statement_ts.
-- Serves every time window: `log --since/--until` (with --table, --actor, --context or alone) and
-- `watch --since`. Events are appended in time order, so each range of 32 heap pages (about 1,000
-- events) covers a short span of time and a window reads only the ranges that overlap it.
-- Write cost: next to nothing (no entry per event; a new range is summarised by autovacuum, and
-- until then it is simply read).
CREATE INDEX event_time_brin ON pgaudit_kit.event USING brin (statement_ts)
    WITH (pages_per_range = 32, autosummarize = on);
-- pgaudit-kit: pgaudit_kit.event_ddl_control_idx -- a table's DDL (op S) and the kit's control events
-- (op K: enrol, options, disenrol, re-bind after a restore; lockdown, maintenance, role grants), by table.
-- Serves the name resolution of `--table` (a table is found by every name it was enrolled under, so a
-- renamed, dropped or restored table still finds all of its history) and the schema changes `history`
-- shows between a row's writes (without it, those are sought among all of the table's events).
-- Partial: data events cost only the evaluation of the predicate.
CREATE INDEX event_ddl_control_idx ON pgaudit_kit.event (relid, id) WHERE op IN ('S', 'K');
-- pgaudit-kit: pgaudit_kit.transaction_context_idx -- GIN (jsonb_path_ops) of the application
-- context. Serves `log --context KEY=VALUE` (e.g. request_id=...): correlates the transactions of one
-- request without reading every transaction. Partial: transactions without context cost nothing.
-- fastupdate off: each insert pays its own small cost, rather than one unlucky writer paying for
-- merging a pending list of thousands of entries.
CREATE INDEX transaction_context_idx ON pgaudit_kit.transaction USING gin (context jsonb_path_ops)
    WITH (fastupdate = off) WHERE context IS NOT NULL;
-- pgaudit-kit: pgaudit_kit.transaction_actor_idx -- transactions by claimed application actor.
-- Serves `log --actor A` (with or without a time window): the actor's transactions are found directly,
-- then their events through event_xid_id_idx, so the cost follows the actor's activity, not the size of
-- the log or of the window. Partial: transactions without an actor cost nothing here. Together with the
-- two role indexes it lets the planner combine the three (BitmapOr), as --actor matches any of them.
-- Write cost: one entry per transaction (not per event).
CREATE INDEX transaction_actor_idx ON pgaudit_kit.transaction (actor) WHERE actor IS NOT NULL;
-- pgaudit-kit: pgaudit_kit.transaction_acting_role_idx -- transactions by the role in effect.
-- Serves `log --actor ROLE` for a database role (a DBA's own writes among an application's). There are
-- few roles, so B-tree deduplication keeps this small; for the application's own role, which is in most
-- transactions, the planner reads the log newest first instead.
-- Write cost: one entry per transaction (not per event).
CREATE INDEX transaction_acting_role_idx ON pgaudit_kit.transaction (acting_role);
-- pgaudit-kit: pgaudit_kit.transaction_set_role_idx -- transactions whose login role acted as another
-- (SET ROLE). Serves `log --actor ROLE` for the login role of such transactions: where the two are equal,
-- transaction_acting_role_idx already finds them, so only the others are indexed (usually next to none).
CREATE INDEX transaction_set_role_idx ON pgaudit_kit.transaction (session_role) WHERE session_role <> acting_role;
-- pgaudit-kit: pgaudit_kit.watch_lease -- until when (Unix epoch seconds) a `pgaudit-kit watch` is
-- listening. Audited transactions send a notification only while it lies in the future, so a database
-- nobody watches never pays for NOTIFY (which serialises committers on the notification queue).
-- A sequence, not a table: setval is not transactional and a read of a sequence sees its current value
-- whatever the reader's snapshot, so a REPEATABLE READ writer that started before a watcher still
-- notices it. Written only by pgaudit_kit.renew_watch_lease; nobody but the owner may read it.
CREATE SEQUENCE pgaudit_kit.watch_lease AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.watch_lease OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.watch_lease IS
    'pgaudit-kit: Unix time until which a watcher listens for new events (notifications are sent until then)';
-- pgaudit-kit: pgaudit_kit.watch_notified -- when (Unix epoch milliseconds) a transaction last notified
-- watchers, so that notifications are sent at most every 100 ms (see pgaudit_kit.notify_watchers). A
-- sequence for the same reasons as pgaudit_kit.watch_lease: not transactional, read whatever the snapshot.
CREATE SEQUENCE pgaudit_kit.watch_notified AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.watch_notified OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.watch_notified IS
    'pgaudit-kit: Unix time in milliseconds of the last notification to watchers (at most one per 100 ms)';
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
