"""Cross-selling campaigns: segments, A/B hold-out, sends, replies, attribution (issue #18).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0033_campaigns
Revises: 0032_branch_forms
"""

from __future__ import annotations

revision = "0033_campaigns"
down_revision = "0032_branch_forms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
