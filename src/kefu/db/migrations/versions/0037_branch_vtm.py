"""Smart branch, rest: hybrid tellers and VTM served through routing, per-branch slot capacity, notices (issue #17).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0037_branch_vtm
Revises: 0036_analytics_clusters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037_branch_vtm"
down_revision = "0036_analytics_clusters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A ticket served at a VTM or hybrid counter is a routed conversation (kefu.branch.remote).
    op.add_column("branch_tickets", sa.Column("conversation_id", sa.Integer(), nullable=True))
    op.create_index("ix_branch_tickets_conversation_id", "branch_tickets", ["conversation_id"])
    # Appointment places per slot for this branch; NULL = the setting's default.
    op.add_column("branch_queue_settings", sa.Column("slot_capacity", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("branch_queue_settings") as batch:
        batch.drop_column("slot_capacity")
    op.drop_index("ix_branch_tickets_conversation_id", table_name="branch_tickets")
    with op.batch_alter_table("branch_tickets") as batch:
        batch.drop_column("conversation_id")
