"""Service-centre KPIs, saved and scheduled reports (issue #19): the hourly KPI rollup and
what feeds it (agents' minutes, self-service turns, the rollup's read positions), saved
reports, schedules and the exports they kept; indexes on conversations' and messages' times
so the rollup re-reads one hour without scanning the tables.

Revision ID: 0027_service_reports
Revises: 0026_knowledge_dense
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_service_reports"
down_revision = "0026_knowledge_dense"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
COUNTS = (
    "conversations", "messages_in", "messages_out", "messages_out_agent", "selfservice_turns",
    "selfservice_answered", "first_responses", "sla_due", "sla_met", "abandoned", "handled",
    "transfers", "escalations", "recontacts", "sentiment_n",
)  # fmt: skip
SUMS = ("first_response_seconds", "handle_seconds", "sentiment_start_sum", "sentiment_end_sum")


def upgrade() -> None:
    op.create_table(
        "kpi_hourly",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", TZ, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_hourly")),
        sa.UniqueConstraint(
            "hour", "channel", "queue", "intent", "agent_id", name=op.f("uq_kpi_hourly_hour")
        ),
    )
    op.create_index(op.f("ix_kpi_hourly_hour"), "kpi_hourly", ["hour"])
    op.create_index("ix_kpi_hourly_agent_id_hour", "kpi_hourly", ["agent_id", "hour"])
    op.create_table(
        "kpi_agent_minutes",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("minute", TZ, nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "minute", name=op.f("pk_kpi_agent_minutes")),
    )
    op.create_table(
        "kpi_selfservice_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_selfservice_turns")),
    )
    op.create_index(op.f("ix_kpi_selfservice_turns_at"), "kpi_selfservice_turns", ["at"])
    op.create_table(
        "kpi_rollup_state",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_kpi_rollup_state")),
    )
    op.create_table(
        "saved_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("shared_roles", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_reports")),
    )
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("next_run_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["saved_reports.id"],
            name=op.f("fk_report_schedules_report_id_saved_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
    )
    op.create_index(op.f("ix_report_schedules_report_id"), "report_schedules", ["report_id"])
    op.create_index(op.f("ix_report_schedules_next_run_at"), "report_schedules", ["next_run_at"])
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("ran_at", TZ, nullable=False),
        sa.Column("period_start", TZ, nullable=False),
        sa.Column("period_end", TZ, nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("delivery", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.id"],
            name=op.f("fk_report_runs_schedule_id_report_schedules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["saved_reports.id"],
            name=op.f("fk_report_runs_report_id_saved_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_runs")),
    )
    op.create_index(op.f("ix_report_runs_schedule_id"), "report_runs", ["schedule_id"])
    # The rollup re-reads one hour of conversations and messages by time.
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index("ix_conversations_contact", "conversations", ["contact"])


def downgrade() -> None:
    op.drop_index("ix_conversations_contact", table_name="conversations")
    op.drop_index("ix_messages_created_at", table_name="messages")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    for table in ("report_runs", "report_schedules", "saved_reports", "kpi_rollup_state",
                  "kpi_selfservice_turns", "kpi_agent_minutes", "kpi_hourly"):  # fmt: skip
        op.drop_table(table)
