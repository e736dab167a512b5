"""WeChat channel: official accounts' inbound dedupe, follower identities, outbound state.

Revision ID: 0009_wechat
Revises: 0006_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_wechat"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wechat_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("content", sa.String(length=2048), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("answered_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_inbound")),
        sa.UniqueConstraint("account", "dedupe_key", name="uq_wechat_inbound_account_dedupe_key"),
    )
    op.create_index(op.f("ix_wechat_inbound_openid"), "wechat_inbound", ["openid"])
    op.create_table(
        "wechat_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("scene", sa.String(length=64), nullable=True),
        sa.Column("subscribed_at", _tz(), nullable=True),
        sa.Column("unsubscribed_at", _tz(), nullable=True),
        sa.Column("last_inbound_at", _tz(), nullable=True),
        sa.Column("misunderstood", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_followers")),
        sa.UniqueConstraint("account", "openid", name="uq_wechat_followers_account_openid"),
    )
    op.create_index(op.f("ix_wechat_followers_openid"), "wechat_followers", ["openid"])
    op.create_table(
        "wechat_access_tokens",
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("access_token", sa.String(length=512), nullable=False),
        sa.Column("expires_at", _tz(), nullable=True),
        sa.Column("refreshing_until", _tz(), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_wechat_access_tokens")),
    )
    op.create_table(
        "wechat_outbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("wechat_msgid", sa.String(length=32), nullable=True),
        sa.Column("fallback_of", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("sent_at", _tz(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_outbound")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_wechat_outbound_idempotency_key")),
    )
    op.create_index("ix_wechat_outbound_account_openid", "wechat_outbound", ["account", "openid"])


def downgrade() -> None:
    op.drop_table("wechat_outbound")
    op.drop_table("wechat_access_tokens")
    op.drop_table("wechat_followers")
    op.drop_table("wechat_inbound")
