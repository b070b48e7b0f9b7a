"""Checking the record: the sealed log and checkpoints (pure checks fed rows), coverage, reconcile."""
