"""WeChat: recovering answers a dead process left (issue #20). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0050_wechat_recovery
Revises: 0049_sms_submit_mark
"""

from __future__ import annotations

revision = "0050_wechat_recovery"
down_revision = "0049_sms_submit_mark"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
