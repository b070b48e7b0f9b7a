-- pgaudit-kit: maintenance windows. pgaudit_kit.begin_maintenance(reason) lets the current
-- transaction change the kit's own objects (what `pgaudit-kit install` does to upgrade). Only a
-- superuser may call it (EXECUTE is granted to nobody) and it records a control event: the one way
-- past the DDL guards that is not an attack is itself in the sealed log. (The install transaction
-- itself records nothing: it creates the log, and verify recognises its window by the install row.)
CREATE OR REPLACE FUNCTION pgaudit_kit.in_maintenance() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
  SELECT EXISTS (SELECT FROM pgaudit_kit.maintenance m
                  WHERE m.xid OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id_if_assigned())
$fn$;
ALTER FUNCTION pgaudit_kit.in_maintenance() OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.in_maintenance() IS 'pgaudit-kit: is this transaction a maintenance window?';
