-- pgaudit-kit: pgaudit_kit.change -- recorded events joined with their transaction, with the old and new images
-- spelled out and the changed columns listed. The view reviewers read.
-- The events of pgaudit_kit.event and those still in chunks (pgaudit_kit.staged_event) are each joined with their
-- transactions in a branch of their own: a filter on the transaction (actor, context) then starts from the
-- transaction indexes, which a join above the union of the two could not do.
CREATE OR REPLACE VIEW pgaudit_kit.change AS
SELECT e.id,
       e.xid,
       e.statement_ts,
       CASE e.op WHEN 'I' THEN 'INSERT' WHEN 'U' THEN 'UPDATE' WHEN 'D' THEN 'DELETE' WHEN 'T' THEN 'TRUNCATE'
                 WHEN 'S' THEN 'DDL' WHEN 'K' THEN 'CONTROL' END AS operation,
       e.relid,
       e.schema_name,
       e.table_name,
       e.partition_name,
       e.pk,
       CASE e.op WHEN 'U' THEN e.row_data || e.old_values WHEN 'D' THEN e.row_data WHEN 'T' THEN e.row_data END
           AS old_row,
       CASE WHEN e.op IN ('I', 'U') THEN e.row_data END AS new_row,
       CASE WHEN e.op = 'U' THEN ARRAY(SELECT pg_catalog.jsonb_object_keys(e.old_values)) END AS changed_columns,
       CASE WHEN e.op IN ('S', 'K') THEN e.row_data END AS details,
       e.statement,
       e.actor,
       e.acting_role,
       e.session_role,
       e.context,
       e.context_raw,
       e.application_name,
       e.client_addr,
       e.client_port,
       e.backend_pid,
       e.xact_start
  FROM (SELECT e.*, t.actor, t.acting_role, t.session_role, t.context, t.context_raw, t.application_name,
               t.client_addr, t.client_port, t.backend_pid, t.xact_start
          FROM pgaudit_kit.event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid
        UNION ALL
        SELECT e.*, t.actor, t.acting_role, t.session_role, t.context, t.context_raw, t.application_name,
               t.client_addr, t.client_port, t.backend_pid, t.xact_start
          FROM pgaudit_kit.staged_event e LEFT JOIN pgaudit_kit.transaction t ON t.xid = e.xid) e;
ALTER VIEW pgaudit_kit.change OWNER TO pgaudit_kit_owner;
COMMENT ON VIEW pgaudit_kit.change IS 'pgaudit-kit: recorded changes with who/where, old and new rows, changed columns';
GRANT SELECT ON pgaudit_kit.change TO pgaudit_kit_admin, pgaudit_kit_reader;
