"""Behaviour analytics I, rest (issue #15): session-replay chunks, the analysts' topics and
the failing-version alerts already sent.

Replay blobs are kept in kefu's database, apart from the event store (see
kefu.analytics.models for why).

Revision ID: 0035_analytics_replay
Revises: 0034_analytics_rca
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_analytics_replay"
down_revision = "0034_analytics_rca"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analytics_replay_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("first_ts", TZ, nullable=False),
        sa.Column("last_ts", TZ, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("raw_bytes", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_replay_chunks")),
        sa.UniqueConstraint("site", "session_id", "seq", name="uq_analytics_replay_chunks_seq"),
    )
    op.create_index(
        "ix_analytics_replay_chunks_received_at", "analytics_replay_chunks", ["received_at"]
    )
    op.create_table(
        "analytics_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_topics")),
        sa.UniqueConstraint("name", name=op.f("uq_analytics_topics_name")),
    )
    op.create_table(
        "analytics_failure_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("page", sa.String(500), nullable=False),
        sa.Column("by", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("detected_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_failure_alerts")),
        sa.UniqueConstraint(
            "site", "page", "by", "name", "version", name="uq_analytics_failure_alerts_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("analytics_failure_alerts")
    op.drop_table("analytics_topics")
    op.drop_table("analytics_replay_chunks")
