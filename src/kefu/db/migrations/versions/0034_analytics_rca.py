"""Behaviour analysis II: metric anomalies, root causes, clusters and segments (issue #16).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0034_analytics_rca
Revises: 0033_campaigns
"""

from __future__ import annotations

revision = "0034_analytics_rca"
down_revision = "0033_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
