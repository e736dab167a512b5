"""Smart branch queues, tickets, forms (issue #17).

Revision ID: 0029_branch_queues
Revises: 0028_quality
"""

from __future__ import annotations

revision = "0029_branch_queues"
down_revision = "0028_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
