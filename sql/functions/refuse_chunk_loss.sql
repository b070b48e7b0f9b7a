-- pgaudit-kit: pgaudit_kit.refuse_chunk_loss() -- AFTER DELETE guard of pgaudit_kit.event_chunk: a chunk may
-- leave only once every one of its events is in pgaudit_kit.event (sealing writes them, then deletes the chunk
-- in the same transaction). Deleting one before that would lose recorded changes: refused for every role,
-- the kit's owner included, as UPDATE and TRUNCATE are (pgaudit_kit.refuse_history_change).
CREATE OR REPLACE FUNCTION pgaudit_kit.refuse_chunk_loss() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
BEGIN
  IF EXISTS (SELECT FROM pgaudit_kit_gone c
              WHERE (SELECT pg_catalog.count(*) FROM pgaudit_kit.event e
                      WHERE e.id BETWEEN c.id AND c.id + c.n_events - 1 AND e.xid = c.xid) <> c.n_events) THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = 'pgaudit-kit: DELETE on pgaudit_kit.event_chunk is refused: the chunk''s events are not sealed yet',
      HINT = 'Chunks leave only through sealing (pgaudit-kit seal), which writes their events first.';
  END IF;
  RETURN NULL;
END
$fn$;
ALTER FUNCTION pgaudit_kit.refuse_chunk_loss() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.refuse_chunk_loss() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.refuse_chunk_loss() IS
    'pgaudit-kit: guard trigger: a chunk leaves only once its events are in pgaudit_kit.event';
