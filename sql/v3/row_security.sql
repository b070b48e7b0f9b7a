-- pgaudit-kit v3: row-level security on the kit's tables, as the last word on who writes them. Privileges
-- alone are not enough: members of pg_write_all_data may INSERT into any table whatever its ACL (forged
-- events, a forged transaction row that would also skip the lockdown check, a forged unlock) and members
-- of pg_read_all_data may read any table (the redaction key). Under row-level security such a role sees
-- no row and may write none: there is no INSERT policy at all. The kit's owner owns the tables, so its
-- SECURITY DEFINER functions (capture among them) are not subject to it and pay nothing; superusers
-- bypass it, as they bypass everything. The kit's roles read through one SELECT policy.
DO $rls$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['install', 'transaction', 'event', 'block', 'checkpoint', 'maintenance', 'lockdown_event',
                           'redaction_key', 'enrolled_table', 'auto_enrol_schema', 'pending_check'] LOOP
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ROW LEVEL SECURITY', t);
    IF t NOT IN ('redaction_key', 'pending_check') THEN
      EXECUTE pg_catalog.format('CREATE POLICY pgaudit_kit_review ON pgaudit_kit.%I FOR SELECT
        TO pgaudit_kit_admin, pgaudit_kit_reader USING (true)', t);
    END IF;
  END LOOP;
END
$rls$;
-- Alembic's version table (created by install, not by these sources) likewise: only the installing
-- superuser writes it; the kit's roles read it.
DO $version$
BEGIN
  IF pg_catalog.to_regclass('pgaudit_kit.alembic_version') IS NOT NULL THEN
    ALTER TABLE pgaudit_kit.alembic_version ENABLE ROW LEVEL SECURITY;
    GRANT SELECT ON pgaudit_kit.alembic_version TO pgaudit_kit_admin, pgaudit_kit_reader;
    CREATE POLICY pgaudit_kit_review ON pgaudit_kit.alembic_version FOR SELECT
      TO pgaudit_kit_admin, pgaudit_kit_reader USING (true);
  END IF;
END
$version$;
