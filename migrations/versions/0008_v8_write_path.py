"""v8: write path -- capture knows that its transaction's who/where row is written without reading a table
(a transaction-local setting confirmed by currval() of the kit-owned sequence pgaudit_kit.recorded_xact), so
audited statements take no SERIALIZABLE predicate locks on the kit's tables; the who/where row is written with
ON CONFLICT DO NOTHING instead of after a probe. Capture functions are regenerated (capture v6). A
`seal --follow` process takes sealing out of the writers' commit path while it holds the new seal lease
(sequence pgaudit_kit.seal_lease, function renew_seal_lease); the commit-time trigger reads its leases without
a query, and it is queued only when its commit has work to do (a WHEN clause). enable_table takes a capture mode (row or statement; a sixth argument, so the five-argument
function goes).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from pgaudit_kit.schema.migration_support import run_delta

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen: what this revision changed in objects that the sql/ "create" sources define (tables, sequences,
# indexes). Functions come from the current sql/ sources after the deltas (pgaudit_kit.schema.migration_support).
DELTA = """
CREATE SEQUENCE pgaudit_kit.recorded_xact AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.recorded_xact OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.recorded_xact IS
    'pgaudit-kit: per session (currval), the transaction whose who/where row the kit wrote last';
CREATE SEQUENCE pgaudit_kit.seal_lease AS bigint MINVALUE 0 START 0 NO CYCLE;
ALTER SEQUENCE pgaudit_kit.seal_lease OWNER TO pgaudit_kit_owner;
COMMENT ON SEQUENCE pgaudit_kit.seal_lease IS
    'pgaudit-kit: Unix time until which a seal --follow process seals (writers do not seal at commit until then)';
GRANT SELECT ON SEQUENCE pgaudit_kit.seal_lease TO pgaudit_kit_admin, pgaudit_kit_reader;
-- The commit-time trigger gains a WHEN clause (sql/triggers/at_commit.sql), which the sources add by creating it
-- anew: drop it here unless it was tampered with (disabled: an upgrade must not erase that evidence; verify
-- reports it). Its pending event (this upgrade's own who/where row) fires first: PostgreSQL refuses to drop a
-- trigger with pending events.
DO $when$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid = 'pgaudit_kit.transaction'::regclass
                AND t.tgname = 'pgaudit_kit_seal_at_commit' AND t.tgenabled = 'A' AND t.tgqual IS NULL) THEN
    SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit IMMEDIATE;
    SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit DEFERRED;
    DROP TRIGGER pgaudit_kit_seal_at_commit ON pgaudit_kit.transaction;
  END IF;
END
$when$;
-- enable_table gained p_capture_mode (sql/functions/enable_table.sql); the sources create the new signature
DROP FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean);
"""


def upgrade() -> None:
    run_delta(revision, DELTA)
