-- pgaudit-kit: pgaudit_kit.checkpoint -- signed checkpoints (C2SP signed note over a tlog-checkpoint
-- body: origin, tree size, base64 root). Signed in the client with a key that never reaches the
-- server; a copy of each is also appended to the anchor directory outside the database.
CREATE TABLE pgaudit_kit.checkpoint (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin     text NOT NULL,
    tree_size  bigint NOT NULL,
    root       bytea NOT NULL CHECK (pg_catalog.length(root) = 32),
    note       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by text NOT NULL DEFAULT session_user
);
ALTER TABLE pgaudit_kit.checkpoint OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.checkpoint IS 'pgaudit-kit: signed checkpoints of the sealed log';
COMMENT ON COLUMN pgaudit_kit.checkpoint.note IS
    'The signed note, UTF-8 encoded: bytes, so that a database of any encoding holds it (its signature lines start with an em dash)';
GRANT SELECT ON pgaudit_kit.checkpoint TO pgaudit_kit_admin, pgaudit_kit_reader;
