"""Saved custom social reports (issue #14 item 7).

Revision ID: 0024_social_reports
Revises: 0023_crisis
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_social_reports"
down_revision = "0023_crisis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "social_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_social_reports_owner", "social_reports", ["owner"])


def downgrade() -> None:
    op.drop_table("social_reports")
