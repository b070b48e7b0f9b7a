"""Benchmarks for pgaudit-kit. Not part of the test suite: run them by hand (see bench/RESULTS.md)."""
