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


COUNTS = (
    "conversations", "messages_in", "messages_out", "messages_out_agent", "selfservice_turns",
    "selfservice_answered", "first_responses", "sla_due", "sla_met", "abandoned", "handled",
    "transfers", "escalations", "recontacts", "sentiment_n",
)  # fmt: skip
SUMS = ("first_response_seconds", "handle_seconds", "sentiment_start_sum", "sentiment_end_sum")


def upgrade() -> None:
    op.add_column("messages", sa.Column("choices", sa.JSON(), nullable=True))
    op.create_table(
        "kpi_daily",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("intent", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS],
        *[sa.Column(c, sa.Float(), nullable=False) for c in SUMS],
        sa.UniqueConstraint("day", "channel", "queue", "intent", "agent_id"),
    )
    op.create_index("ix_kpi_daily_day", "kpi_daily", ["day"])
    op.create_index("ix_kpi_daily_agent_id_day", "kpi_daily", ["agent_id", "day"])


def downgrade() -> None:
    op.drop_table("kpi_daily")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("choices")
