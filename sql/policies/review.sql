-- pgaudit-kit: row-level security on the kit's tables, as the last word on who writes them. Privileges
-- alone are not enough: members of pg_write_all_data may INSERT into any table whatever its ACL (forged
-- events, a forged transaction row that would also skip the lockdown check, a forged unlock) and members
-- of pg_read_all_data may read any table (the redaction key). Under row-level security such a role sees
-- no row and may write none: there is no INSERT policy at all. The kit's owner owns the tables, so its
-- SECURITY DEFINER functions (capture among them) are not subject to it and pay nothing; superusers
-- bypass it, as they bypass everything. The kit's roles read through one SELECT policy.
-- Enabled and created where the policy is missing, never altered where present (see triggers/guard.sql).
DO $rls$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['install', 'transaction', 'event', 'event_chunk', 'block', 'checkpoint', 'maintenance', 'lockdown_event',
                           'redaction_key', 'enrolled_table', 'auto_enrol_schema', 'pending_check', 'retention',
                           'retirement'] LOOP
    IF t IN ('redaction_key', 'pending_check') THEN
      -- no policy at all: nobody but the owner sees a row
      CONTINUE WHEN (SELECT c.relrowsecurity FROM pg_catalog.pg_class c
                      WHERE c.oid = pg_catalog.format('pgaudit_kit.%I', t)::regclass);
    ELSE
      CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_policy p
                             WHERE p.polrelid = pg_catalog.format('pgaudit_kit.%I', t)::regclass
                               AND p.polname = 'pgaudit_kit_review');
      EXECUTE pg_catalog.format('CREATE POLICY pgaudit_kit_review ON pgaudit_kit.%I FOR SELECT
        TO pgaudit_kit_admin, pgaudit_kit_reader USING (true)', t);
    END IF;
    EXECUTE pg_catalog.format('ALTER TABLE pgaudit_kit.%I ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
END
$rls$;
-- Alembic's version table (created by install before these sources run, not by them) likewise: only the
-- installing superuser writes it; the kit's roles read it.
DO $version$
BEGIN
  IF pg_catalog.to_regclass('pgaudit_kit.alembic_version') IS NOT NULL
     AND NOT EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = 'pgaudit_kit.alembic_version'::regclass
                        AND p.polname = 'pgaudit_kit_review') THEN
    ALTER TABLE pgaudit_kit.alembic_version ENABLE ROW LEVEL SECURITY;
    GRANT SELECT ON pgaudit_kit.alembic_version TO pgaudit_kit_admin, pgaudit_kit_reader;
    CREATE POLICY pgaudit_kit_review ON pgaudit_kit.alembic_version FOR SELECT
      TO pgaudit_kit_admin, pgaudit_kit_reader USING (true);
  END IF;
END
$version$;
