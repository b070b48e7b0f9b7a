"""v5: write path -- cheaper sealing (index-range batch, one-call leaf encoding, set-based Merkle append)
and capture functions that pin only the output settings their column types need.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing structural: this revision changed functions only (sealing, leaf encoding, capture settings, the
    capture generator, the invariants), which come from the current sql/ sources after every upgrade, as does
    the regeneration of every capture function."""
