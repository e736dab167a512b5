"""Cross-selling: web chat banner campaigns (issue #18). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0047_crosssell_banner
Revises: 0046_sms_api
"""

from __future__ import annotations

revision = "0047_crosssell_banner"
down_revision = "0046_sms_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
