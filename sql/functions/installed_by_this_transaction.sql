-- pgaudit_kit.installed_by_this_transaction(): true while the kit's own install transaction runs (the
-- one that wrote pgaudit_kit.install), when later revisions of a fresh install pass the guards that
-- earlier revisions of the same install created.
CREATE OR REPLACE FUNCTION pgaudit_kit.installed_by_this_transaction() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
  SELECT EXISTS (SELECT FROM pgaudit_kit.install i
                  WHERE i.xmin::text = (pg_catalog.pg_current_xact_id()::text::bigint % 4294967296)::text)
$fn$;
ALTER FUNCTION pgaudit_kit.installed_by_this_transaction() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.installed_by_this_transaction() IS
    'pgaudit-kit: is the current transaction the one installing the kit?';
