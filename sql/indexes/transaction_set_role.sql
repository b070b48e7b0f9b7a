-- pgaudit-kit: pgaudit_kit.transaction_set_role_idx -- transactions whose login role acted as another
-- (SET ROLE). Serves `log --actor ROLE` for the login role of such transactions: where the two are equal,
-- transaction_acting_role_idx already finds them, so only the others are indexed (usually next to none).
CREATE INDEX transaction_set_role_idx ON pgaudit_kit.transaction (session_role) WHERE session_role <> acting_role;
