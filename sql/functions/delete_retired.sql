-- pgaudit-kit: pgaudit_kit.delete_retired(partition name, last_xid, last_event_id) -- deletes one partition's events at or before
-- that sealed position (its guard, pgaudit_kit_retire_only, checks them against the recorded retirement).
CREATE OR REPLACE FUNCTION pgaudit_kit.delete_retired(p_name text, p_last_xid xid8, p_last_event_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  v_removed bigint;
BEGIN
  EXECUTE pg_catalog.format('DELETE FROM pgaudit_kit.%I e WHERE (e.xid, e.id) <= ($1, $2)', p_name)
    USING p_last_xid, p_last_event_id;
  GET DIAGNOSTICS v_removed = ROW_COUNT;
  RETURN v_removed;
END
$fn$;
ALTER FUNCTION pgaudit_kit.delete_retired(text, xid8, bigint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.delete_retired(text, xid8, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.delete_retired(text, xid8, bigint) IS 'pgaudit-kit: delete the retired events of one partition (for retire)';
