-- pgaudit-kit: pgaudit_kit.transaction_actor_idx -- transactions by claimed application actor.
-- Serves `log --actor A` (with or without a time window): the actor's transactions are found directly,
-- then their events through event_xid_id_idx, so the cost follows the actor's activity, not the size of
-- the log or of the window. Partial: transactions without an actor cost nothing here. Together with the
-- two role indexes it lets the planner combine the three (BitmapOr), as --actor matches any of them.
-- Write cost: one entry per transaction (not per event).
CREATE INDEX transaction_actor_idx ON pgaudit_kit.transaction (actor) WHERE actor IS NOT NULL;
