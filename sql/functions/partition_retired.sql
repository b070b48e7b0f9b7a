-- pgaudit-kit: pgaudit_kit.partition_retired(partition, last_xid, last_event_id) -- does the partition hold no event
-- after that sealed position (only retired ones, or none: emptied by an earlier retirement's deletes)?
CREATE OR REPLACE FUNCTION pgaudit_kit.partition_retired(p_partition regclass, p_last_xid xid8, p_last_event_id bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_retired boolean;
BEGIN
  EXECUTE pg_catalog.format('SELECT NOT EXISTS (SELECT FROM %s e WHERE (e.xid, e.id) > ($1, $2))', p_partition)
     INTO v_retired USING p_last_xid, p_last_event_id;
  RETURN v_retired;
END
$fn$;
ALTER FUNCTION pgaudit_kit.partition_retired(regclass, xid8, bigint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.partition_retired(regclass, xid8, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.partition_retired(regclass, xid8, bigint) IS 'pgaudit-kit: does a partition of event hold no event after a sealed position? (for retire)';
