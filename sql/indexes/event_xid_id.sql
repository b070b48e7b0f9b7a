-- pgaudit-kit: pgaudit_kit.event_xid_id_idx -- sealing walks events in (xid, id) order from the last
-- sealed position; review reads a transaction's events through it.
CREATE INDEX event_xid_id_idx ON pgaudit_kit.event (xid, id);
