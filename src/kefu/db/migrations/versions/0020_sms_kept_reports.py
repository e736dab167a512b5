"""SMS outbox across a killed gateway: the sender of each claimed row, the senders'
heartbeats, and status reports kept until a message takes them.

Revision ID: 0020_sms_kept_reports
Revises: 0019_staff_sso
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_sms_kept_reports"
down_revision = "0019_staff_sso"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=40), nullable=True))
    op.create_table(
        "sms_kept_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link", sa.String(length=32), nullable=False),
        sa.Column("carrier_id", sa.String(length=64), nullable=False),
        sa.Column("handset", sa.String(length=21), nullable=False),
        sa.Column("stat", sa.String(length=16), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_kept_reports")),
    )
    op.create_index(op.f("ix_sms_kept_reports_carrier_id"), "sms_kept_reports", ["carrier_id"])
    op.create_table(
        "sms_senders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("seen_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_senders")),
    )


def downgrade() -> None:
    op.drop_table("sms_senders")
    op.drop_table("sms_kept_reports")
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("sender")
