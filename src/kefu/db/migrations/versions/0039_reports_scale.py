"""Service-centre management, rest: reports at scale, containment per session, retention of analytics (issue #19).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0039_reports_scale
Revises: 0038_crosssell_scores
"""

from __future__ import annotations

revision = "0039_reports_scale"
down_revision = "0038_crosssell_scores"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
