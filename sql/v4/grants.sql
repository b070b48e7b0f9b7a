-- pgaudit-kit v4: privileges. Readers and admins may follow new events (watch renews the lease).
-- The kit's objects change only in a maintenance window (revision 0003's DDL guards). The migration opens
-- one for the revision; applied file by file (the MANIFEST), each file opens its own.
DO $maintenance$
BEGIN
  IF NOT pgaudit_kit.in_maintenance() THEN
    PERFORM pgaudit_kit.begin_maintenance('pgaudit-kit schema change: v4');
  END IF;
END
$maintenance$;
GRANT EXECUTE ON FUNCTION pgaudit_kit.renew_watch_lease(integer) TO pgaudit_kit_admin, pgaudit_kit_reader;
