-- pgaudit-kit: pgaudit_kit.event_ddl_control_idx -- a table's DDL (op S) and the kit's control events
-- (op K: enrol, options, disenrol, re-bind after a restore; lockdown, maintenance, role grants), by table.
-- Serves the name resolution of `--table` (a table is found by every name it was enrolled under, so a
-- renamed, dropped or restored table still finds all of its history) and the schema changes `history`
-- shows between a row's writes (without it, those are sought among all of the table's events).
-- Partial: data events cost only the evaluation of the predicate.
CREATE INDEX event_ddl_control_idx ON pgaudit_kit.event (relid, id) WHERE op IN ('S', 'K');
