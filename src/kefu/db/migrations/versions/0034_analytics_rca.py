"""Behaviour analysis II: saved customer segments (issue #16).

A segment is a snapshot of customer numbers taken from a behaviour cluster, kept for campaigns
(``kefu.analytics.segments``). Anomalies and root causes are computed from the event store and
need no table here.

Revision ID: 0034_analytics_rca
Revises: 0033_campaigns
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_analytics_rca"
down_revision = "0033_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_analytics_segments_name")),
    )
    op.create_table(
        "analytics_segment_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["analytics_segments.id"],
            name=op.f("fk_analytics_segment_members_segment_id_analytics_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_segment_members")),
        sa.UniqueConstraint("segment_id", "customer_no", name="uq_analytics_segment_members"),
    )
    op.create_index(
        "ix_analytics_segment_members_customer_no",
        "analytics_segment_members",
        ["customer_no"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("analytics_segment_members")
    op.drop_table("analytics_segments")
