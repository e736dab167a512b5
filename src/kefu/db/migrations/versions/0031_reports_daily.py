"""Service-centre reports II: daily rollups for long periods, PDF exports, survey cards (issue #19).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0031_reports_daily
Revises: 0030_crosssell
"""

from __future__ import annotations

revision = "0031_reports_daily"
down_revision = "0030_crosssell"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
