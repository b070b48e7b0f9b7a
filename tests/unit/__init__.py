"""Tests that need no database: pure Python against vectors and values."""
