"""Tests that attack the kit: tampering with the log, bypassing capture and its guards, drift."""
