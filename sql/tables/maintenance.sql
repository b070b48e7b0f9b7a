-- pgaudit-kit: pgaudit_kit.maintenance -- every maintenance window: a transaction in which the kit's
-- own objects may change (install upgrades them). Opened only by pgaudit_kit.begin_maintenance, which a
-- superuser alone may call and which records a control event; append-only like the rest of history.
CREATE TABLE pgaudit_kit.maintenance (
    xid        xid8 PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_by text NOT NULL DEFAULT session_user,
    reason     text NOT NULL
);
ALTER TABLE pgaudit_kit.maintenance OWNER TO pgaudit_kit_owner;
COMMENT ON TABLE pgaudit_kit.maintenance IS
    'pgaudit-kit: transactions allowed to change the kit''s own objects (upgrades), with who and why';
GRANT SELECT ON pgaudit_kit.maintenance TO pgaudit_kit_admin, pgaudit_kit_reader;
