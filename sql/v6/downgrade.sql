-- pgaudit-kit v6 downgrade, run after v2's seal_at_commit and v4's notify_watchers are back
-- (see migrations/versions/0006_v6_commit_path.py): v4's notify trigger again.
-- A function that restore_released_functions() creates is owned by whoever runs the migration: give it
-- back to the kit's owner, as v4's file did.
ALTER FUNCTION pgaudit_kit.notify_watchers() OWNER TO pgaudit_kit_owner;
REVOKE ALL ON FUNCTION pgaudit_kit.notify_watchers() FROM PUBLIC;
COMMENT ON FUNCTION pgaudit_kit.notify_watchers() IS
    'pgaudit-kit: at commit, notify watchers (channel pgaudit_kit_events) of new events, at most every 100 ms';
CREATE CONSTRAINT TRIGGER pgaudit_kit_notify_watchers AFTER INSERT ON pgaudit_kit.transaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pgaudit_kit.notify_watchers();
ALTER TABLE pgaudit_kit.transaction ENABLE ALWAYS TRIGGER pgaudit_kit_notify_watchers;
COMMENT ON FUNCTION pgaudit_kit.seal_at_commit() IS 'pgaudit-kit: piggy-backed sealing at commit (try-lock, bounded)';
