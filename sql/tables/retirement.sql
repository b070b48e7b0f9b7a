-- pgaudit-kit: pgaudit_kit.retirement -- each retirement of archived history, append-only: the sealed log up to
-- the end of block block_no (tree_size events) left the database in transaction xid, after it was written to
-- the archive whose manifest has digest archive_sha256. The guards let history rows be deleted only inside the
-- transaction that wrote such a row, and only within its range (pgaudit_kit.refuse_unretired_removal). The same
-- facts are a control event of the log ('retire'), which is what verify starts from.
CREATE TABLE pgaudit_kit.retirement (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid            xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    block_no       bigint NOT NULL,
    tree_size      bigint NOT NULL,
    block_hash     bytea NOT NULL,
    archive_sha256 text NOT NULL CHECK (archive_sha256 ~ '^[0-9a-f]{64}$'),
    min_age        interval NOT NULL,
    retired_by     text NOT NULL,
    retired_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pgaudit_kit.retirement OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.retirement IS
    'pgaudit-kit: retirements of archived history: which prefix of the sealed log left, when, by whom, to which archive';
GRANT SELECT ON pgaudit_kit.retirement TO pgaudit_kit_admin, pgaudit_kit_reader;
