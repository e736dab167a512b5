"""CSAT, quality inspection, search and retention (issue #19).

Revision ID: 0028_quality
Revises: 0027_service_reports
"""

from __future__ import annotations

revision = "0028_quality"
down_revision = "0027_service_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
