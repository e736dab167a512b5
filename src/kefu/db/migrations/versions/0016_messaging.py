"""The message pipeline's per-address state (misread messages in a row) for every channel;
WeChat's own counter on its followers goes.

Revision ID: 0016_messaging
Revises: 0014_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_messaging"
down_revision = "0014_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messaging_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("misreads", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_contacts")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_messaging_contacts_channel")),
    )
    with op.batch_alter_table("wechat_followers") as batch:
        batch.drop_column("misunderstood")


def downgrade() -> None:
    with op.batch_alter_table("wechat_followers") as batch:
        batch.add_column(
            sa.Column("misunderstood", sa.Integer(), nullable=False, server_default="0")
        )
    op.drop_table("messaging_contacts")
