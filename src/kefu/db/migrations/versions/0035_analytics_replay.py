"""Behaviour analytics I, rest (issue #15): session-replay chunks and the analysts' topics.

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


def downgrade() -> None:
    op.drop_table("analytics_topics")
    op.drop_index("ix_analytics_replay_chunks_received_at", "analytics_replay_chunks")
    op.drop_table("analytics_replay_chunks")
