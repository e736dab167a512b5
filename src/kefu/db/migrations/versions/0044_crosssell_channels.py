"""Cross-selling campaigns on WeChat and the web chat banner (issue #18). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0044_crosssell_channels
Revises: 0043_branch_sms
"""

from __future__ import annotations

revision = "0044_crosssell_channels"
down_revision = "0043_branch_sms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
