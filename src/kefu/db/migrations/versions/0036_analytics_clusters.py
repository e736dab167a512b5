"""Behaviour analysis II, rest: clustering runs, the customer view of behaviour (issue #16).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0036_analytics_clusters
Revises: 0035_analytics_replay
"""

from __future__ import annotations

revision = "0036_analytics_clusters"
down_revision = "0035_analytics_replay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
