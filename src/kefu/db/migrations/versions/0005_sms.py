"""SMS channel: every SMS in and out (the outbox), and carrier ids for status reports.

Revision ID: 0005_sms
Revises: 0004_assistant
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sms"
down_revision = "0004_assistant"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("link", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=21), nullable=False),
        sa.Column("service_number", sa.String(length=21), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_messages_dedupe_key")),
    )
    op.create_index("ix_sms_messages_state_id", "sms_messages", ["state", "id"])
    op.create_index(op.f("ix_sms_messages_phone"), "sms_messages", ["phone"])
    op.create_table(
        "sms_carrier_ids",
        sa.Column("link", sa.String(length=32), nullable=False),
        sa.Column("carrier_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["sms_messages.id"],
            name=op.f("fk_sms_carrier_ids_message_id_sms_messages"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("link", "carrier_id", name=op.f("pk_sms_carrier_ids")),
    )
    op.create_index(op.f("ix_sms_carrier_ids_message_id"), "sms_carrier_ids", ["message_id"])


def downgrade() -> None:
    op.drop_table("sms_carrier_ids")
    op.drop_table("sms_messages")
