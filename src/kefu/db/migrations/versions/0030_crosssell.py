"""Cross-selling: products, offers, outcomes, campaigns (issue #18).

Revision ID: 0030_crosssell
Revises: 0029_branch_queues
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TZ = sa.DateTime(timezone=True)

revision = "0030_crosssell"
down_revision = "0029_branch_queues"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crosssell_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(length=32), nullable=False),
        sa.Column("product_code", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("occasion", sa.String(length=24), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_crosssell_outcomes_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_crosssell_outcomes_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosssell_outcomes")),
        sa.UniqueConstraint(
            "customer_no", "product_code", "outcome", "occasion", name="uq_crosssell_outcomes_once"
        ),
    )
    op.create_index(
        op.f("ix_crosssell_outcomes_customer_no"), "crosssell_outcomes", ["customer_no"]
    )
    op.create_table(
        "crosssell_risk_assessments",
        sa.Column("customer_no", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("customer_no", name=op.f("pk_crosssell_risk_assessments")),
    )


def downgrade() -> None:
    op.drop_table("crosssell_risk_assessments")
    op.drop_table("crosssell_outcomes")
