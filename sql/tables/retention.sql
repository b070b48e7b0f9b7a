-- pgaudit-kit: pgaudit_kit.retention -- the minimum retention period of audit history, append-only. The
-- period in force is the longest ever set: it can be raised, never lowered (pgaudit_kit.set_retention refuses
-- a shorter one, and a row written past it cannot shorten a maximum). Until one is set, nothing can be retired.
CREATE TABLE pgaudit_kit.retention (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    min_age interval NOT NULL CHECK (min_age > '0'::interval),
    set_by  text NOT NULL,
    set_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pgaudit_kit.retention OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.retention IS
    'pgaudit-kit: minimum retention periods set; the longest is in force (raise-only)';
GRANT SELECT ON pgaudit_kit.retention TO pgaudit_kit_admin, pgaudit_kit_reader;
