"""Staff second factor: authenticator (TOTP) secrets.

Revision ID: 0018_security_totp
Revises: 0015_agent_desk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_security_totp"
down_revision = "0015_agent_desk"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_totp",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("enabled_at", TZ, nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_staff_totp_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_staff_totp")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("staff_totp")
