"""SMS path (issue #24): no schema in the end (the group commit and the read caches need none;
kept reports already have their table, 0020). Kept, empty, so the revision chain stays whole.

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
