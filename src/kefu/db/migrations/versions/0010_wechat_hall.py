"""WeChat business hall: custom menus per account and region, followers' regions, region tags.

Revision ID: 0010_wechat_hall
Revises: 0006_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_wechat_hall"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_menus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_version", sa.Integer(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_result", sa.String(length=200), nullable=True),
        sa.Column("wechat_menuid", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_menus")),
        sa.UniqueConstraint("account", "region", name="uq_wechat_menus_account_region"),
    )
    op.create_table(
        "wechat_follower_regions",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tagged_region", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("account", "openid", name=op.f("pk_wechat_follower_regions")),
    )
    op.create_table(
        "wechat_region_tags",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "region", name=op.f("pk_wechat_region_tags")),
    )


def downgrade() -> None:
    op.drop_table("wechat_region_tags")
    op.drop_table("wechat_follower_regions")
    op.drop_table("wechat_menus")
