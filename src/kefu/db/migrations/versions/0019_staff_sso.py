"""Staff single sign-on (OIDC): which kefu user each provider identity (iss, sub) is.

Revision ID: 0019_staff_sso
Revises: 0018_security_totp
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_staff_sso"
down_revision = "0018_security_totp"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_sso_identities",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_staff_sso_identities_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_staff_sso_identities")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_staff_sso_identities_agent_id"), "staff_sso_identities", ["agent_id"],
        unique=True,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("staff_sso_identities")
