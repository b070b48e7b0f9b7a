-- pgaudit-kit v4 downgrade: removes the review indexes and the watch notifications.
-- The maintenance window's transaction row may leave the deferred sealing trigger pending on
-- pgaudit_kit.transaction, and PostgreSQL refuses DROP INDEX on a table with pending trigger events.
SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit, pgaudit_kit.pgaudit_kit_notify_watchers IMMEDIATE;
SET CONSTRAINTS pgaudit_kit.pgaudit_kit_seal_at_commit DEFERRED;
DROP TRIGGER pgaudit_kit_notify_watchers ON pgaudit_kit.transaction;
DROP FUNCTION pgaudit_kit.notify_watchers();
DROP FUNCTION pgaudit_kit.renew_watch_lease(integer);
DROP SEQUENCE pgaudit_kit.watch_notified;
DROP SEQUENCE pgaudit_kit.watch_lease;
DROP INDEX pgaudit_kit.transaction_set_role_idx;
DROP INDEX pgaudit_kit.transaction_acting_role_idx;
DROP INDEX pgaudit_kit.transaction_actor_idx;
DROP INDEX pgaudit_kit.transaction_context_idx;
DROP INDEX pgaudit_kit.event_ddl_control_idx;
DROP INDEX pgaudit_kit.event_time_brin;
DROP INDEX pgaudit_kit.event_row_idx;
DROP INDEX pgaudit_kit.event_relid_bloom;
