"""Behaviour analysis II, rest: clustering runs and their members (issue #16).

``analytics_cluster_runs`` keeps what an analyst ran (site, days, progress while it runs, the
clusters found as JSON); ``analytics_cluster_members`` each clustered customer's cluster, so
export and save-as-segment take the list the page showed. The customer view of behaviour is
read from the event store and the replay table and needs no table.

Revision ID: 0036_analytics_clusters
Revises: 0035_analytics_replay
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036_analytics_clusters"
down_revision = "0035_analytics_replay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_cluster_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=80), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("silhouette", sa.Float(), nullable=True),
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_cluster_runs")),
    )
    op.create_table(
        "analytics_cluster_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.Integer(), nullable=False),
        sa.Column("customer_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_no", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analytics_cluster_runs.id"],
            name=op.f("fk_analytics_cluster_members_run_id_analytics_cluster_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_cluster_members")),
    )
    op.create_index(
        "ix_analytics_cluster_members_run_cluster",
        "analytics_cluster_members",
        ["run_id", "cluster"],
        unique=False,
    )


def downgrade() -> None:
    # Dropping the table drops its index. MySQL/MariaDB refuse to drop that index alone: it is
    # the only one starting with run_id, which the foreign key needs.
    op.drop_table("analytics_cluster_members")
    op.drop_table("analytics_cluster_runs")
