"""Join the knowledge, routing and assistant/SMS branches into one history.

Revision ID: 0006_merge
Revises: 0002_knowledge, 0003_routing, 0005_sms
"""

from __future__ import annotations

revision = "0006_merge"
down_revision = ("0002_knowledge", "0003_routing", "0005_sms")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the branches touch different tables."""


def downgrade() -> None:
    """Nothing to change."""
