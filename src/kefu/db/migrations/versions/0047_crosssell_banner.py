"""Cross-selling: web chat banner campaigns (issue #18): one row per showing of a banner in a
widget visit (at most one per campaign and visit), with its click or dismissal.

Revision ID: 0047_crosssell_banner
Revises: 0046_sms_api
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0047_crosssell_banner"
down_revision = "0046_sms_api"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
TABLE = "crosssell_banner_impressions"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(32), nullable=False),
        sa.Column("visit", sa.String(32), nullable=False),
        sa.Column("shown_at", TZ, nullable=False),
        sa.Column("clicked_at", TZ, nullable=True),
        sa.Column("dismissed_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["crosssell_campaigns.id"],
            ondelete="CASCADE",
            name=op.f("fk_crosssell_banner_impressions_campaign_id_crosssell_campaigns"),
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["crosssell_campaign_members.id"],
            ondelete="CASCADE",
            name=op.f("fk_crosssell_banner_impressions_member_id_crosssell_campaign_members"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosssell_banner_impressions")),
        sa.UniqueConstraint("campaign_id", "visit", name="uq_crosssell_banner_impressions_once"),
    )
    op.create_index("ix_crosssell_banner_impressions_customer", TABLE, ["customer_no", "shown_at"])


def downgrade() -> None:
    op.drop_table(TABLE)
