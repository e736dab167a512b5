"""WeChat: recovering answers a dead process left (issue #20). The inbound row keeps what its
columns do not hold of the message (``message``), so a recovery in another process answers it
as the callback would; an index on (state, received_at) finds the rows left behind.

Revision ID: 0050_wechat_recovery
Revises: 0049_sms_submit_mark
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050_wechat_recovery"
down_revision = "0049_sms_submit_mark"
branch_labels = None
depends_on = None

TABLE = "wechat_inbound"
INDEX = "ix_wechat_inbound_state_received"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("message", sa.JSON(), nullable=True))
    op.create_index(INDEX, TABLE, ["state", "received_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("message")
