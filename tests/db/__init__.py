"""Tests that need a PostgreSQL server (the fixtures in tests/conftest.py start one)."""
