"""Smart branch II: paperless forms and their ID + ticket tries (issue #17).

Revision ID: 0032_branch_forms
Revises: 0031_reports_daily
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TZ = sa.DateTime(timezone=True)

revision = "0032_branch_forms"
down_revision = "0031_reports_daily"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branch_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("retrieved_by", sa.String(length=80), nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("bank_reference", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_forms")),
        sa.UniqueConstraint("reference", name=op.f("uq_branch_forms_reference")),
    )
    op.create_index("ix_branch_forms_ticket_id", "branch_forms", ["ticket_id"])
    op.create_table(
        "branch_form_tries",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_branch_form_tries")),
    )


def downgrade() -> None:
    op.drop_table("branch_form_tries")
    op.drop_index("ix_branch_forms_ticket_id", table_name="branch_forms")
    op.drop_table("branch_forms")
