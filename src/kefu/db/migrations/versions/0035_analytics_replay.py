"""Behaviour analytics I, rest: replays, topics, alert webhooks (issue #15).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0035_analytics_replay
Revises: 0034_analytics_rca
"""

from __future__ import annotations

revision = "0035_analytics_replay"
down_revision = "0034_analytics_rca"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
