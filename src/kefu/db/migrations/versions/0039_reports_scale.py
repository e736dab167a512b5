"""Service-centre management, rest: reports at scale, containment per session, retention of analytics (issue #19).

Self-service sessions (kefu.reports.turns): each turn records its customer (a hash of channel
and address), when the customer's session began and whether the turn handed them to an
agent; kpi_hourly and kpi_daily count sessions and contained sessions. Old turns keep an
empty customer (each its own session). And an index on conversations.updated_at for the
rollup's idle rounds at a million conversations.

Revision ID: 0039_reports_scale
Revises: 0038_crosssell_scores
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039_reports_scale"
down_revision = "0038_crosssell_scores"
branch_labels = None
depends_on = None


TZ = sa.DateTime(timezone=True)
KPI_TABLES = ("kpi_hourly", "kpi_daily")
SESSION_COUNTS = ("selfservice_sessions", "selfservice_contained")


def upgrade() -> None:
    turns = "kpi_selfservice_turns"
    op.add_column(turns, sa.Column("customer", sa.String(16), nullable=False, server_default=""))
    op.add_column(turns, sa.Column("session_at", TZ, nullable=True))
    op.add_column(
        turns, sa.Column("handed_off", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_kpi_selfservice_turns_customer_at", turns, ["customer", "at"])
    op.create_index("ix_kpi_selfservice_turns_session_at", turns, ["session_at"])
    # The rollup's round asks for conversations changed since the last one (closed in
    # place): without this index a scan of every conversation, 5 s an idle round at 1 M.
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])
    for table in KPI_TABLES:
        for column in SESSION_COUNTS:
            op.add_column(
                table, sa.Column(column, sa.Integer(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in KPI_TABLES:
        with op.batch_alter_table(table) as batch:
            for column in SESSION_COUNTS:
                batch.drop_column(column)
    op.drop_index("ix_conversations_updated_at", table_name="conversations")
    turns = "kpi_selfservice_turns"
    op.drop_index("ix_kpi_selfservice_turns_session_at", table_name=turns)
    op.drop_index("ix_kpi_selfservice_turns_customer_at", table_name=turns)
    with op.batch_alter_table(turns) as batch:
        batch.drop_column("handed_off")
        batch.drop_column("session_at")
        batch.drop_column("customer")
