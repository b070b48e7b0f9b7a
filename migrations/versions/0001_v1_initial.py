"""v1: the baseline -- roles, schema, capture tables, capture generator, enrolment functions, DDL event
triggers.

A database without the kit is installed from the current sql/ sources and stamped with the newest revision,
never by replaying the revisions, so this baseline has nothing to run: the revisions after it upgrade
databases that already hold the kit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    raise RuntimeError("pgaudit-kit installs a new database from sql/ and stamps it; revision 0001 is the baseline")
