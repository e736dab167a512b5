"""SMS delivery: carrier ids remember their exact form; status callbacks through webhook
subscriptions, which may now be owned by one API key (a partner sees only its own messages).

Revision ID: 0011_sms_callbacks
Revises: 0006_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_sms_callbacks"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_carrier_ids") as batch:
        batch.add_column(
            sa.Column("exact", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("sms_carrier_ids") as batch:
        batch.drop_column("exact")
