"""Self-service: dialog sessions, one-time codes, marketing opt-outs.

Revision ID: 0004_assistant
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_assistant"
down_revision = "0001"
branch_labels = ("assistant",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dialog_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("awaiting", sa.String(length=32), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialog_sessions")),
        sa.UniqueConstraint("channel", "contact", name="uq_dialog_sessions_channel_contact"),
    )
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
    )
    op.create_index(op.f("ix_otp_challenges_address"), "otp_challenges", ["address"])
    op.create_table(
        "marketing_optouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_optouts")),
        sa.UniqueConstraint("kind", "value", name="uq_marketing_optouts_kind_value"),
    )


def downgrade() -> None:
    op.drop_table("marketing_optouts")
    op.drop_table("otp_challenges")
    op.drop_table("dialog_sessions")
