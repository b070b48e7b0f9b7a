"""Talking to PostgreSQL: connections and error translation, catalog reads, table names, recorded reviews with
their read snapshot, and the throwaway server tests and the demo start."""
