"""Service-centre reports II (issue #19): tappable answers on a message (a CSAT survey's 1–5,
rendered by WeChat as a menu message) and daily KPI rollups for long periods.

Revision ID: 0031_reports_daily
Revises: 0030_crosssell
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_reports_daily"
down_revision = "0030_crosssell"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("choices", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("choices")
