"""The `pgaudit-kit doctor` command line (registered on the main group when imported by cli)."""

from __future__ import annotations
