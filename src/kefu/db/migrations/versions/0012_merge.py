"""Join the SMS governance, subscriptions, WeChat, WeChat hall and SMS callback branches.

Revision ID: 0012_merge
Revises: 0007_sms_governance, 0008_subscriptions, 0009_wechat, 0010_wechat_hall, 0011_sms_callbacks
"""

from __future__ import annotations

revision = "0012_merge"
down_revision = (
    "0007_sms_governance",
    "0008_subscriptions",
    "0009_wechat",
    "0010_wechat_hall",
    "0011_sms_callbacks",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the branches touch different tables."""


def downgrade() -> None:
    """Nothing to change."""
