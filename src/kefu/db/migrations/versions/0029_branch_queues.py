"""Smart branch queues, tickets, forms (issue #17).

Revision ID: 0029_branch_queues
Revises: 0028_quality
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TZ = sa.DateTime(timezone=True)

revision = "0029_branch_queues"
down_revision = "0028_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branch_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("teller", sa.String(length=80), nullable=True),
        sa.Column("current_ticket_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_counters")),
        sa.UniqueConstraint("branch_code", "number", name="uq_branch_counters_number"),
    )
    op.create_index("ix_branch_counters_branch_code", "branch_counters", ["branch_code"])
    op.create_table(
        "branch_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("customer_key", sa.String(length=80), nullable=True),
        sa.Column("notify_ahead", sa.Integer(), nullable=True),
        sa.Column("notified_at", TZ, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=True),
        sa.Column("parked_by", sa.Integer(), nullable=True),
        sa.Column("recalls", sa.Integer(), nullable=False),
        sa.Column("predicted_wait", sa.Float(), nullable=True),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("called_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_tickets")),
        sa.UniqueConstraint("branch_code", "day", "label", name="uq_branch_tickets_label"),
    )
    op.create_index(
        "ix_branch_tickets_queue", "branch_tickets", ["branch_code", "state", "service"]
    )
    op.create_index("ix_branch_tickets_customer_key", "branch_tickets", ["customer_key"])
    op.create_table(
        "branch_queue_settings",
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("alert_wait_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("branch_code", name=op.f("pk_branch_queue_settings")),
    )


def downgrade() -> None:
    op.drop_table("branch_queue_settings")
    op.drop_table("branch_tickets")
    op.drop_table("branch_counters")
