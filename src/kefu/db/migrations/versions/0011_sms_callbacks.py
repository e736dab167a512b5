"""SMS status callbacks: per-key callback URLs and their signed deliveries.

Revision ID: 0011_sms_callbacks
Revises: 0006_merge
"""

from __future__ import annotations

revision = "0011_sms_callbacks"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Tables of this branch (filled in by the package that owns it)."""


def downgrade() -> None:
    """Drop what upgrade created."""
