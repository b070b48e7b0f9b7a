"""The `pgaudit-kit review` command line (registered on the main group when imported by cli)."""

from __future__ import annotations
