"""Cross-selling campaigns: segments, A/B hold-out, sends, replies, attribution (issue #18).

Revision ID: 0033_campaigns
Revises: 0032_branch_forms
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TZ = sa.DateTime(timezone=True)

revision = "0033_campaigns"
down_revision = "0032_branch_forms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crosssell_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template_name", sa.String(length=64), nullable=False),
        sa.Column("sub_code", sa.String(length=8), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("attribution_days", sa.Integer(), nullable=False),
        sa.Column("cost_per_message", sa.Float(), nullable=False),
        sa.Column("value_per_conversion", sa.Float(), nullable=False),
        sa.Column("max_audience", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", TZ, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("last_refusal", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosssell_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_crosssell_campaigns_name")),
        sa.UniqueConstraint("sub_code", name=op.f("uq_crosssell_campaigns_sub_code")),
    )
    op.create_table(
        "crosssell_campaign_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=21), nullable=False),
        sa.Column("arm", sa.String(length=8), nullable=False),
        sa.Column("draw", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=200), nullable=True),
        sa.Column("reply", sa.String(length=16), nullable=True),
        sa.Column("replied_at", TZ, nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("converted_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["crosssell_campaigns.id"],
            name=op.f("fk_crosssell_campaign_members_campaign_id_crosssell_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_crosssell_campaign_members_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosssell_campaign_members")),
        sa.UniqueConstraint(
            "campaign_id", "customer_no", name="uq_crosssell_campaign_members_once"
        ),
    )
    op.create_index(
        "ix_crosssell_campaign_members_phone",
        "crosssell_campaign_members",
        ["campaign_id", "phone"],
    )


def downgrade() -> None:
    op.drop_table("crosssell_campaign_members")
    op.drop_table("crosssell_campaigns")
