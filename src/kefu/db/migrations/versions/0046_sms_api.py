"""SMS API: cost per request (issue #24). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0046_sms_api
Revises: 0045_reports_setbased
"""

from __future__ import annotations

revision = "0046_sms_api"
down_revision = "0045_reports_setbased"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
