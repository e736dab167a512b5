"""Reports: set-based rollup and search (issue #19). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0045_reports_setbased
Revises: 0044_crosssell_channels
"""

from __future__ import annotations

revision = "0045_reports_setbased"
down_revision = "0044_crosssell_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
