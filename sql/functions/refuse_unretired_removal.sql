-- pgaudit-kit: pgaudit_kit.refuse_unretired_removal() -- AFTER DELETE guard (statement-level, ENABLE ALWAYS) of
-- the history tables event, transaction, block and checkpoint: rows may leave only in the transaction that
-- recorded a retirement (pgaudit_kit.retire), only while pgaudit_kit.retirement_refusal still allows it, and only
-- within its range: events up to the last one sealed in its block, transaction records up to that block's last
-- transaction that no event or chunk still names, earlier blocks, checkpoints of smaller trees. Any other DELETE
-- is refused for every role, the kit's owner included, as UPDATE and TRUNCATE are (refuse_history_change).
CREATE OR REPLACE FUNCTION pgaudit_kit.refuse_unretired_removal() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
  v_retired record;
  v_outside boolean;
  -- a partition of pgaudit_kit.event (retire deletes from each partition it does not drop) checks as the event table
  v_table text := (SELECT c.relname::text FROM pg_catalog.pg_class c
                    WHERE c.oid = COALESCE(pg_catalog.pg_partition_root(TG_RELID), TG_RELID));
BEGIN
  SELECT r.block_no, r.tree_size, b.last_xid, b.last_event_id INTO v_retired
    FROM pgaudit_kit.retirement r
    JOIN pgaudit_kit.block b ON b.block_no = r.block_no AND b.tree_size = r.tree_size AND b.block_hash = r.block_hash
   WHERE r.xid = pg_catalog.pg_current_xact_id() AND pgaudit_kit.retirement_refusal(r.block_no) IS NULL
   ORDER BY r.tree_size DESC LIMIT 1;
  IF FOUND THEN
    -- each branch is planned only when it runs, for its own table (PL/pgSQL compiles a trigger per table)
    IF v_table = 'event' THEN
      v_outside := EXISTS (SELECT FROM pgaudit_kit_gone g WHERE (g.xid, g.id) > (v_retired.last_xid, v_retired.last_event_id));
    ELSIF v_table = 'transaction' THEN
      v_outside := EXISTS (SELECT FROM pgaudit_kit_gone g
                            WHERE g.xid > v_retired.last_xid
                               OR EXISTS (SELECT FROM pgaudit_kit.event e WHERE e.xid = g.xid)
                               OR EXISTS (SELECT FROM pgaudit_kit.event_chunk c WHERE c.xid = g.xid));
    ELSIF v_table = 'block' THEN
      v_outside := EXISTS (SELECT FROM pgaudit_kit_gone g WHERE g.block_no >= v_retired.block_no);
    ELSIF v_table = 'checkpoint' THEN
      v_outside := EXISTS (SELECT FROM pgaudit_kit_gone g WHERE g.tree_size >= v_retired.tree_size);
    END IF;
  END IF;
  IF v_outside IS DISTINCT FROM false THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = pg_catalog.format('pgaudit-kit: DELETE on %I.%I is refused: recorded history is append-only',
                                  TG_TABLE_SCHEMA, TG_TABLE_NAME),
      HINT = 'History leaves only through pgaudit-kit retire: archived, covered by a signed checkpoint and older '
             'than the retention period.';
  END IF;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.refuse_unretired_removal() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.refuse_unretired_removal() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refuse_unretired_removal() IS
    'pgaudit-kit: guard trigger: history rows leave only within a retirement recorded by the deleting transaction';
