-- pgaudit-kit v3: privileges. Readers and admins record their reviews, reconcile enrolled tables and read
-- the lockdown and maintenance history; admins lock down and unlock. Nobody but the owner writes any kit table.
GRANT SELECT ON pgaudit_kit.maintenance, pgaudit_kit.lockdown_event TO pgaudit_kit_admin, pgaudit_kit_reader;
GRANT EXECUTE ON FUNCTION pgaudit_kit.record_review(text, jsonb),
                          pgaudit_kit.invariant_problems(),
                          pgaudit_kit.reconcile_table(oid)
    TO pgaudit_kit_admin, pgaudit_kit_reader;
GRANT EXECUTE ON FUNCTION pgaudit_kit.lockdown(text), pgaudit_kit.unlock(text) TO pgaudit_kit_admin;
-- The DDL guard carries a redacted or excluded column's option over a rename by re-enrolling the table.
GRANT EXECUTE ON FUNCTION pgaudit_kit.enable_table(regclass, text[], text[], text, boolean) TO pgaudit_kit_owner;
