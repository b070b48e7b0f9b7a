-- pgaudit-kit: pgaudit_kit.install -- one row identifying this installation.
-- The install id names the database instance in signed checkpoints, so a checkpoint cannot be
-- replayed against another database or a re-installed kit.
CREATE TABLE pgaudit_kit.install (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    install_id   uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    installed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    installed_by text NOT NULL DEFAULT session_user
);
ALTER TABLE pgaudit_kit.install OWNER TO pgaudit_kit_owner;
INSERT INTO pgaudit_kit.install DEFAULT VALUES;
COMMENT ON TABLE pgaudit_kit.install IS 'pgaudit-kit: identity of this installation (exactly one row)';
COMMENT ON COLUMN pgaudit_kit.install.install_id IS 'Random id naming this installation in checkpoints';
GRANT SELECT ON pgaudit_kit.install TO pgaudit_kit_admin, pgaudit_kit_reader;
