"""Cross-selling, rest: precomputed offer scores, outcomes for retraining, scheduled campaigns (issue #18).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0038_crosssell_scores
Revises: 0037_branch_vtm
"""

from __future__ import annotations

revision = "0038_crosssell_scores"
down_revision = "0037_branch_vtm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
