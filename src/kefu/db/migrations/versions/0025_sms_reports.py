"""SMS reports kept until recorded, possibly-duplicated outcome (issue #24).

Revision ID: 0025_sms_reports
Revises: 0024_social_reports
"""

from __future__ import annotations

revision = "0025_sms_reports"
down_revision = "0024_social_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
