-- pgaudit-kit: pgaudit_kit.recorded_event -- every recorded event: those in pgaudit_kit.event and those still in
-- chunks (pgaudit_kit.staged_event). What review reads; sealing and verification read pgaudit_kit.event.
CREATE OR REPLACE VIEW pgaudit_kit.recorded_event AS
SELECT * FROM pgaudit_kit.event
UNION ALL
SELECT * FROM pgaudit_kit.staged_event;
ALTER VIEW pgaudit_kit.recorded_event OWNER TO pgaudit_kit_owner;
COMMENT ON VIEW pgaudit_kit.recorded_event IS 'pgaudit-kit: every recorded event, sealed or still in a chunk';
GRANT SELECT ON pgaudit_kit.recorded_event TO pgaudit_kit_admin, pgaudit_kit_reader;
