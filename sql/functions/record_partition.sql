-- pgaudit-kit: pgaudit_kit.record_partition(name, lower_id, upper_id) -- the control event ('partition') of a
-- partition of pgaudit_kit.event that pgaudit_kit.add_event_partitions created: its name and range of id (NULL:
-- from MINVALUE; both NULL: the DEFAULT partition). Its DDL commands are not recorded one by one
-- (pgaudit_kit.partition_work_allows). On a fresh install nothing is enrolled and nothing is recorded (the log
-- starts with the install).
CREATE OR REPLACE FUNCTION pgaudit_kit.record_partition(p_name text, p_lower_id bigint, p_upper_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF NOT pgaudit_kit.installed_by_this_transaction() THEN
    PERFORM pgaudit_kit.record_control_event('partition', 'pgaudit_kit.event'::regclass, 'pgaudit_kit', 'event',
              pg_catalog.jsonb_build_object('partition', p_name, 'lower_id', p_lower_id, 'upper_id', p_upper_id));
  END IF;
END
$fn$;
ALTER FUNCTION pgaudit_kit.record_partition(text, bigint, bigint) OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.record_partition(text, bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.record_partition(text, bigint, bigint) IS
    'pgaudit-kit: record the creation of a partition of pgaudit_kit.event (a control event)';
