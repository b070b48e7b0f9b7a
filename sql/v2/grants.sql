-- pgaudit-kit v2: privileges for the sealed log. Admins seal and store checkpoints; readers and
-- admins read blocks and checkpoints.
GRANT SELECT ON pgaudit_kit.block, pgaudit_kit.checkpoint TO pgaudit_kit_admin, pgaudit_kit_reader;
GRANT EXECUTE ON FUNCTION pgaudit_kit.seal(integer, boolean),
                          pgaudit_kit.store_checkpoint(text, bigint, bytea, text)
    TO pgaudit_kit_admin;
