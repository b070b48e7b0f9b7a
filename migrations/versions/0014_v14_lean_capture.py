"""v14: fewer costs per captured row. The event table's two block-range indexes (event_relid_bloom on relid,
event_time_brin on statement_ts) become one of both columns, event_relid_time_brin: every index of the table is
opened and prepared at each captured row's INSERT, and the second cost 30 k instructions of 1,384 k per tpcb-like
transaction. Capture records the partition that held a row only for partitioned tables (any other table's trigger
fires for the table itself: the name was always NULL, at 21 k instructions to find that out), and decides which
columns an UPDATE changed by their recorded text compared byte for byte, so that a column under a nondeterministic
(case- or accent-insensitive) collation whose case alone changed keeps its old value. Capture functions are
regenerated (capture v9). Writers that seal at commit seal at most every 200 ms, as before, but the time of the
newest block is now also a sequence (pgaudit_kit.last_sealed, set by pgaudit_kit.seal) that the commit-time
trigger's WHEN clause reads: a transaction whose first audited write comes within 200 ms of a seal, or that runs
under REPEATABLE READ or SERIALIZABLE (which never seal), queues no commit-time trigger at all. Queueing and firing
it only to find by a query that the log had just been sealed cost 93 k instructions per tpcb-like transaction.

The upgrade builds the new index over every partition (one read of the event table, writers waiting, as 0013's
validation of event_p0 was) and drops the two old ones.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes), and what it drops. Functions, views and triggers come from the current sql/ sources after the deltas.
# The partitions' own indexes are named after the new one's by pgaudit_kit.protect_event_partition (partitions/
# event.sql, after the deltas).
DELTA = """
CREATE INDEX event_relid_time_brin ON pgaudit_kit.event
    USING brin (relid oid_bloom_ops (n_distinct_per_range = 64, false_positive_rate = 0.01), statement_ts)
    WITH (pages_per_range = 32, autosummarize = on);
DROP INDEX pgaudit_kit.event_relid_bloom;
DROP INDEX pgaudit_kit.event_time_brin;
CREATE SEQUENCE pgaudit_kit.last_sealed AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.last_sealed OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.last_sealed IS
    'pgaudit-kit: Unix time in milliseconds when the newest block was sealed (writers seal at most every 200 ms)';
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
