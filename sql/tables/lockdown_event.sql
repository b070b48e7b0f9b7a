-- pgaudit-kit: pgaudit_kit.lockdown_event -- lockdowns and unlocks, append-only; the newest row is
-- the current state. While locked, every transaction that would write audited rows is refused.
CREATE TABLE pgaudit_kit.lockdown_event (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    locked    boolean NOT NULL,
    reason    text NOT NULL CHECK (pg_catalog.btrim(reason) <> ''),
    acted_by  text NOT NULL,
    acted_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pgaudit_kit.lockdown_event OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.lockdown_event IS 'pgaudit-kit: lockdowns and unlocks; the newest row is the state';
COMMENT ON COLUMN pgaudit_kit.lockdown_event.acted_by IS 'The role that locked or unlocked (session and SET ROLE)';
GRANT SELECT ON pgaudit_kit.lockdown_event TO pgaudit_kit_admin, pgaudit_kit_reader;
