-- pgaudit-kit: pgaudit_kit.transaction_acting_role_idx -- transactions by the role in effect.
-- Serves `log --actor ROLE` for a database role (a DBA's own writes among an application's). There are
-- few roles, so B-tree deduplication keeps this small; for the application's own role, which is in most
-- transactions, the planner reads the log newest first instead.
-- Write cost: one entry per transaction (not per event).
CREATE INDEX transaction_acting_role_idx ON pgaudit_kit.transaction (acting_role);
