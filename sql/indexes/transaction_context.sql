-- pgaudit-kit: pgaudit_kit.transaction_context_idx -- GIN (jsonb_path_ops) of the application
-- context. Serves `log --context KEY=VALUE` (e.g. request_id=...): correlates the transactions of one
-- request without reading every transaction. Partial: transactions without context cost nothing.
-- fastupdate off: each insert pays its own small cost, rather than one unlucky writer paying for
-- merging a pending list of thousands of entries.
CREATE INDEX transaction_context_idx ON pgaudit_kit.transaction USING gin (context jsonb_path_ops)
    WITH (fastupdate = off) WHERE context IS NOT NULL;
