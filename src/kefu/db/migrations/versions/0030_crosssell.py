"""Cross-selling: products, offers, outcomes, campaigns (issue #18).

Revision ID: 0030_crosssell
Revises: 0029_branch_queues
"""

from __future__ import annotations

revision = "0030_crosssell"
down_revision = "0029_branch_queues"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
