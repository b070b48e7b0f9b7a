-- pgaudit-kit: pgaudit_kit.partition_work_allows(relid, command_tag) -- is this DDL command the kit's own work on a
-- partition of pgaudit_kit.event? The kit's functions that create, protect or (retiring history) drop one name it
-- in the transaction-local setting pgaudit_kit.partition_work while they do, and clear it after. That partition,
-- its indexes and what hangs on it (relid: the relation a trigger, policy or constraint is on) qualify, the event
-- table itself for ALTER TABLE (attaching, and detaching event_overflow to attach it again above a new partition),
-- and the REVOKE that writes a new partition's privileges out. The DDL guard lets these through and they are not
-- recorded one by one (the kit records one control event per partition instead); the commit check still runs, and
-- refuses a transaction that leaves a table of the kit's schema outside the kit (a partition detached and left so).
-- Anybody may set the setting; only the kit's owner and superusers may change the kit's tables at all, and a
-- superuser gains nothing by it that a superuser lacks.
CREATE OR REPLACE FUNCTION pgaudit_kit.partition_work_allows(p_relid oid, p_command_tag text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT COALESCE(w.rel OPERATOR(pg_catalog.=) p_relid
                  OR w.rel OPERATOR(pg_catalog.=) (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = p_relid)
                  OR (p_command_tag = 'ALTER TABLE' AND p_relid = pg_catalog.to_regclass('pgaudit_kit.event')
                      AND w.rel IS NOT NULL)
                  OR (p_command_tag = 'REVOKE' AND p_relid IS NULL AND w.rel IS NOT NULL), false)
    FROM (SELECT pg_catalog.to_regclass('pgaudit_kit.' || pg_catalog.quote_ident(
                   NULLIF(pg_catalog.current_setting('pgaudit_kit.partition_work', true), ''))) AS rel) w
$fn$;
ALTER FUNCTION pgaudit_kit.partition_work_allows(oid, text) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.partition_work_allows(oid, text) IS
    'pgaudit-kit: is this DDL command the kit''s own work on a partition of pgaudit_kit.event?';
