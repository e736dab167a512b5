"""The crisis desk (issue #14): burst alerts, the worker's cursor, notices to supervisors,
batch replies with their per-conversation rows, escalation records.

Revision ID: 0023_crisis
Revises: 0022_weibo
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_crisis"
down_revision = "0022_weibo"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crisis_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("playbook", sa.String(length=64), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("negativity", sa.Float(), nullable=False),
        sa.Column("reach", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("related", sa.JSON(), nullable=False),
        sa.Column("post_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("notice_level", sa.Integer(), nullable=False),
        sa.Column("notified_at", TZ, nullable=False),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("acknowledged_at", TZ, nullable=True),
        sa.Column("escalated_by", sa.String(length=80), nullable=True),
        sa.Column("escalated_at", TZ, nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_alerts")),
        sa.UniqueConstraint("term", "started_at", name="uq_crisis_alerts_term_started"),
    )
    op.create_index(op.f("ix_crisis_alerts_term"), "crisis_alerts", ["term"])
    op.create_index(op.f("ix_crisis_alerts_state"), "crisis_alerts", ["state"])
    op.create_index(op.f("ix_crisis_alerts_updated_at"), "crisis_alerts", ["updated_at"])
    op.create_table(
        "crisis_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_post_id", sa.Integer(), nullable=False),
        sa.Column("stream_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_crisis_cursor")),
    )
    op.create_table(
        "crisis_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["crisis_alerts.id"], ondelete="CASCADE",
                                name=op.f("fk_crisis_notices_alert_id_crisis_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_notices")),
        sa.UniqueConstraint("alert_id", "level", "channel", "address",
                            name="uq_crisis_notices_once"),
    )  # fmt: skip
    op.create_index(op.f("ix_crisis_notices_alert_id"), "crisis_notices", ["alert_id"])
    op.create_table(
        "crisis_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("playbook", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", TZ, nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["crisis_alerts.id"], ondelete="SET NULL",
                                name=op.f("fk_crisis_statements_alert_id_crisis_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_statements")),
        sa.UniqueConstraint("request_key", name=op.f("uq_crisis_statements_request_key")),
    )  # fmt: skip
    op.create_index(op.f("ix_crisis_statements_term"), "crisis_statements", ["term"])
    op.create_table(
        "crisis_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["statement_id"], ["crisis_statements.id"], ondelete="CASCADE",
                                name=op.f("fk_crisis_replies_statement_id_crisis_statements")),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE",
                                name=op.f("fk_crisis_replies_conversation_id_conversations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_replies")),
        sa.UniqueConstraint("statement_id", "conversation_id", name="uq_crisis_replies_once"),
    )  # fmt: skip
    op.create_index(op.f("ix_crisis_replies_statement_id"), "crisis_replies", ["statement_id"])
    op.create_table(
        "crisis_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("team", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("outcome_by", sa.String(length=80), nullable=True),
        sa.Column("outcome_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["crisis_alerts.id"], ondelete="SET NULL",
                                name=op.f("fk_crisis_escalations_alert_id_crisis_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_escalations")),
    )  # fmt: skip
    op.create_index(op.f("ix_crisis_escalations_term"), "crisis_escalations", ["term"])


def downgrade() -> None:
    for table in ("crisis_escalations", "crisis_replies", "crisis_statements", "crisis_notices",
                  "crisis_cursor", "crisis_alerts"):  # fmt: skip
        op.drop_table(table)
