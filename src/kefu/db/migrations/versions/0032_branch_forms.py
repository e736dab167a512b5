"""Smart branch II: paperless forms and their ID + ticket tries, appointment slots and bookings,
and an index in call-next order (issue #17).

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

    op.create_table(
        "branch_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_slots")),
        sa.UniqueConstraint("branch_code", "service", "day", "start", name="uq_branch_slots_slot"),
    )
    op.create_table(
        "branch_appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("branch_code", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("customer_key", sa.String(length=80), nullable=False),
        sa.Column("active_key", sa.String(length=80), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_appointments")),
        sa.UniqueConstraint("code", name=op.f("uq_branch_appointments_code")),
        sa.UniqueConstraint("day", "active_key", name="uq_branch_appointments_active"),
    )
    op.create_index("ix_branch_appointments_slot_id", "branch_appointments", ["slot_id"])
    op.create_index(
        "ix_branch_tickets_next",
        "branch_tickets",
        ["branch_code", "day", "service", "state", sa.text("priority DESC"), "issued_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_branch_tickets_next", table_name="branch_tickets")
    op.drop_table("branch_appointments")
    op.drop_table("branch_slots")
    op.drop_table("branch_form_tries")
    op.drop_table("branch_forms")
