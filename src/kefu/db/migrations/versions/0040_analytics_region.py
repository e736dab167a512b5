"""Behaviour analytics I, rest: regions, pre-seeded replays, role-aware tabs (issue #15).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0040_analytics_region
Revises: 0039_reports_scale
"""

from __future__ import annotations

revision = "0040_analytics_region"
down_revision = "0039_reports_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
