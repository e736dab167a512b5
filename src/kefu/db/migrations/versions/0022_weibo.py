"""Weibo channel: the account's OAuth2 token, polling checkpoints, received items (unique per
account, kind and id), outbound replies; and the reply mode an agent chose for a message
(messages.reply_mode: "comment" for a public comment, "dm" for a 私信).

Revision ID: 0022_weibo
Revises: 0021_social
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_weibo"
down_revision = "0021_social"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "weibo_tokens",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("uid", sa.String(length=24), nullable=False),
        sa.Column("access_token", sa.String(length=256), nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("authorised_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_weibo_tokens")),
    )
    op.create_table(
        "weibo_checkpoints",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("since_id", sa.String(length=24), nullable=False),
        sa.Column("catchup_top", sa.String(length=24), nullable=True),
        sa.Column("catchup_max_id", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("polled_at", TZ, nullable=True),
        sa.Column("resume_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("account", "stream", name=op.f("pk_weibo_checkpoints")),
    )
    op.create_table(
        "weibo_received",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("sender_uid", sa.String(length=24), nullable=False),
        sa.Column("sender_name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status_id", sa.String(length=24), nullable=True),
        sa.Column("posted_at", TZ, nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("handled_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weibo_received")),
        sa.UniqueConstraint("account", "kind", "external_id", name="uq_weibo_received_item"),
    )
    op.create_index("ix_weibo_received_account_sender", "weibo_received",
                    ["account", "sender_uid"])  # fmt: skip
    op.create_index("ix_weibo_received_state", "weibo_received", ["state"])
    op.create_index(op.f("ix_weibo_received_conversation_id"), "weibo_received",
                    ["conversation_id"])  # fmt: skip
    op.create_table(
        "weibo_outbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("receiver_uid", sa.String(length=24), nullable=False),
        sa.Column("status_id", sa.String(length=24), nullable=True),
        sa.Column("comment_id", sa.String(length=24), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TZ, nullable=True),
        sa.Column("next_try_at", TZ, nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("weibo_id", sa.String(length=24), nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weibo_outbound")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_weibo_outbound_idempotency_key")),
    )
    op.create_index("ix_weibo_outbound_state_next", "weibo_outbound", ["state", "next_try_at"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_mode", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("reply_mode")
    op.drop_table("weibo_outbound")
    op.drop_table("weibo_received")
    op.drop_table("weibo_checkpoints")
    op.drop_table("weibo_tokens")
