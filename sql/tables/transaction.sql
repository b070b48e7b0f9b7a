-- pgaudit-kit: pgaudit_kit.transaction -- who and where, once per audited transaction.
-- Written by pgaudit_kit.record_transaction inside the audited transaction itself, so it commits or
-- rolls back with the business write.
CREATE TABLE pgaudit_kit.transaction (
    xid              xid8 PRIMARY KEY,
    xact_start       timestamptz NOT NULL,
    session_role     text NOT NULL,
    acting_role      text NOT NULL,
    actor            text,
    context          jsonb,
    context_raw      text,
    application_name text,
    client_addr      inet,
    client_port      integer,
    backend_pid      integer NOT NULL,
    CHECK (context IS NULL OR context_raw IS NULL)
);
ALTER TABLE pgaudit_kit.transaction OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.transaction IS 'pgaudit-kit: one row per audited transaction: who, where, when';
COMMENT ON COLUMN pgaudit_kit.transaction.xid IS 'Top-level transaction id (pg_current_xact_id())';
COMMENT ON COLUMN pgaudit_kit.transaction.session_role IS 'session_user: the role that logged in';
COMMENT ON COLUMN pgaudit_kit.transaction.acting_role IS
    'The role the session acted as (SET ROLE), never the kit''s SECURITY DEFINER owner';
COMMENT ON COLUMN pgaudit_kit.transaction.actor IS 'Claimed application actor from the setting pgaudit_kit.actor';
COMMENT ON COLUMN pgaudit_kit.transaction.context IS 'Context JSON from the setting pgaudit_kit.context';
COMMENT ON COLUMN pgaudit_kit.transaction.context_raw IS 'pgaudit_kit.context verbatim when it was not valid JSON';
GRANT SELECT ON pgaudit_kit.transaction TO pgaudit_kit_admin, pgaudit_kit_reader;
