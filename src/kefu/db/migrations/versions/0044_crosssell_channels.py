"""Cross-selling campaigns on WeChat and the web chat banner (issue #18): the campaign's text
as rendered at start; per member, the
address a WeChat template went to (account:openid), when it was sent, and for the banner when
it was shown and clicked.

Revision ID: 0044_crosssell_channels
Revises: 0043_branch_sms
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0044_crosssell_channels"
down_revision = "0043_branch_sms"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
MEMBERS = "crosssell_campaign_members"
COLUMNS = ("address", "sent_at", "shown_at", "clicked_at")


def upgrade() -> None:
    op.add_column("crosssell_campaigns", sa.Column("content", sa.Text(), nullable=True))
    op.add_column(MEMBERS, sa.Column("address", sa.String(128), nullable=True))
    for name in COLUMNS[1:]:
        op.add_column(MEMBERS, sa.Column(name, TZ, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(MEMBERS) as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("crosssell_campaigns") as batch:
        batch.drop_column("content")
