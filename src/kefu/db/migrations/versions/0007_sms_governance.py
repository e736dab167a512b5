"""SMS governance: message templates, consent records, frequency caps, partner (CP) accounts.

Revision ID: 0007_sms_governance
Revises: 0006_merge
"""

from __future__ import annotations

revision = "0007_sms_governance"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Tables of this branch (filled in by the package that owns it)."""


def downgrade() -> None:
    """Drop what upgrade created."""
