"""Smart branch, rest: hybrid tellers and VTM served through routing, per-branch slot capacity, notices (issue #17).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0037_branch_vtm
Revises: 0036_analytics_clusters
"""

from __future__ import annotations

revision = "0037_branch_vtm"
down_revision = "0036_analytics_clusters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
