-- pgaudit-kit: pgaudit_kit.staged_event -- the events still in chunks (pgaudit_kit.event_chunk), not yet written
-- into pgaudit_kit.event by sealing: recorded (committed with their transaction) but unsealed. Review reads
-- pgaudit_kit.event together with this, so a bulk statement's changes show as soon as it commits.
CREATE OR REPLACE VIEW pgaudit_kit.staged_event AS
SELECT e.* FROM pgaudit_kit.event_chunk c CROSS JOIN LATERAL pgaudit_kit.chunk_events(c) e
 WHERE pgaudit_kit.chunk_problem(c) IS NULL;  -- a chunk capture cannot have written: invariant_problems() names it
ALTER VIEW pgaudit_kit.staged_event OWNER TO pgaudit_kit_owner;
COMMENT ON VIEW pgaudit_kit.staged_event IS 'pgaudit-kit: recorded events still in chunks, not yet sealed';
GRANT SELECT ON pgaudit_kit.staged_event TO pgaudit_kit_admin, pgaudit_kit_reader;
