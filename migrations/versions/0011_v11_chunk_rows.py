"""v11: sealing expands a chunk's rows side by side (pgaudit_kit.chunk_events zips its three arrays with ROWS FROM
over the new pgaudit_kit.chunk_rows) instead of joining them by row number, which ran as a nested loop of 1,024 x
1,024 comparisons a chunk: sealing a 1,000,000-row statement took 68 s, now 17 s (bench/RESULTS.md). Same events.
pgaudit_kit.array_rows, which the join used, is dropped.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes), and what it drops. Functions, views and triggers come from the current sql/ sources after the deltas.
DELTA = """
-- IF EXISTS: an upgrade from before 0010 never had it (functions come from the sources after all deltas)
DROP FUNCTION IF EXISTS pgaudit_kit.array_rows(text[], integer);
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
