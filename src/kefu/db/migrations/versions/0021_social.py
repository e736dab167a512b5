"""Social media (issue #14): the social posts store with each post's analysis, and the
listening rules (舆情监测 keyword subscriptions).

Revision ID: 0021_social
Revises: 0020_sms_kept_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_social"
down_revision = "0020_sms_kept_reports"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "social_listening_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("include_terms", sa.JSON(), nullable=False),
        sa.Column("exclude_terms", sa.JSON(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_listening_rules")),
    )
    op.create_table(
        "social_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_external_id", sa.String(length=128), nullable=True),
        sa.Column("author_uid", sa.String(length=128), nullable=False),
        sa.Column("author_name", sa.String(length=128), nullable=False),
        sa.Column("author_followers", sa.Integer(), nullable=False),
        sa.Column("author_verified_type", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("posted_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=False),
        sa.Column("emotion", sa.String(length=16), nullable=False),
        sa.Column("emotion_score", sa.Float(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=True),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("spam", sa.Boolean(), nullable=False),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.Column("influence", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("captured_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_social_posts_conversation_id_conversations"),
            ondelete="SET NULL",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["captured_by"],
            ["social_listening_rules.id"],
            name=op.f("fk_social_posts_captured_by_social_listening_rules"),
            ondelete="SET NULL",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_posts")),
        sa.UniqueConstraint("platform", "external_id", name="uq_social_posts_platform_external_id"),
    )
    op.create_index(op.f("ix_social_posts_received_at"), "social_posts", ["received_at"])
    op.create_index(op.f("ix_social_posts_conversation_id"), "social_posts", ["conversation_id"])
    op.create_index(op.f("ix_social_posts_captured_by"), "social_posts", ["captured_by"])
    op.create_index("ix_social_posts_state_received_at", "social_posts", ["state", "received_at"])
    op.create_index(
        "ix_social_posts_platform_author_uid", "social_posts", ["platform", "author_uid"]
    )


def downgrade() -> None:
    op.drop_table("social_posts")
    op.drop_table("social_listening_rules")
