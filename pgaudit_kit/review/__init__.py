"""Reading history: filters and queries, events, row history, rendering, live watch."""
