"""Agent desk (issue 23): presence kept alive by a heartbeat from the workspace pages, and the
reason an agent is not ready (休息, 培训, 话后处理).

Revision ID: 0015_agent_desk
Revises: 0017_webchat
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_agent_desk"
down_revision = "0017_webchat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agents", sa.Column("presence_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("presence_reason")
        batch.drop_column("last_seen_at")
