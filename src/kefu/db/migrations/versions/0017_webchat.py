"""Web chat: sessions (one visitor on one site) and their transcripts.

Revision ID: 0017_webchat
Revises: 0016_messaging
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_webchat"
down_revision = "0016_messaging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webchat_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("customer_no", sa.String(length=32), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("read_upto", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("csat_requested", sa.Boolean(), nullable=False),
        sa.Column("csat_score", sa.Integer(), nullable=True),
        sa.Column("csat_comment", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_sessions")),
    )
    op.create_index(op.f("ix_webchat_sessions_site"), "webchat_sessions", ["site"])
    op.create_index(op.f("ix_webchat_sessions_address"), "webchat_sessions", ["address"])
    op.create_table(
        "webchat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=True),
        sa.Column("quick_replies", sa.JSON(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["webchat_sessions.id"],
            name=op.f("fk_webchat_messages_session_id_webchat_sessions"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_messages")),
        sa.UniqueConstraint("session_id", "seq", name="uq_webchat_messages_session_seq"),
        sa.UniqueConstraint("session_id", "client_id", name="uq_webchat_messages_session_client"),
        sa.UniqueConstraint(
            "source_message_id", name=op.f("uq_webchat_messages_source_message_id")
        ),
    )
    op.create_index(op.f("ix_webchat_messages_session_id"), "webchat_messages", ["session_id"])
    op.create_index(op.f("ix_webchat_messages_created_at"), "webchat_messages", ["created_at"])


def downgrade() -> None:
    op.drop_table("webchat_messages")
    op.drop_table("webchat_sessions")
