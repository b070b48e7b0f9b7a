"""v15: an UPDATE's capture compares columns of integer, oid, boolean, bytea, uuid, date, time and timestamp types as
values instead of as text. Their equality holds exactly when their recorded text is the same, so the same old
values are recorded; each text comparison cost two casts, looked up again at every captured row (27 k
instructions of the 1,341 k of a tpcb-like transaction, whose UPDATEs touch nine integer columns). Capture asks
whether its transaction's who/where row is written with the transaction id it already holds
(pgaudit_kit.recorded_xact_is, which pgaudit_kit.transaction_recorded now calls) instead of calling
pg_current_xact_id() twice at every statement (10 k). Capture functions are regenerated (capture v10).

Nothing is rewritten: the events recorded before and after the upgrade have the same encoding.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Frozen: the function whose arguments changed; the sources create it anew after the delta. (Its one caller,
# capture_function_source, is replaced by the sources too, before capture is regenerated.)
DELTA = """
DROP FUNCTION pgaudit_kit.old_values_sql(text[], text[], text[], text, text, text, text);
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
