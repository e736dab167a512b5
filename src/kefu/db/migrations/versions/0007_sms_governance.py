"""SMS governance: message templates, consent records, partner (CP) accounts and traffic.

Revision ID: 0007_sms_governance
Revises: 0006_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_sms_governance"
down_revision = "0006_merge"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("sub_code", sa.String(length=8), nullable=False),
        sa.Column("ip_allow", sa.JSON(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
        sa.UniqueConstraint("sub_code", name=op.f("uq_partners_sub_code")),
    )
    op.create_table(
        "sms_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("submitted_at", TZ, nullable=True),
        sa.Column("reviewed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_sms_templates_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_sms_templates_name")),
    )
    op.create_index(op.f("ix_sms_templates_partner_id"), "sms_templates", ["partner_id"])
    op.create_table(
        "marketing_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=21), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.String(length=200), nullable=True),
        sa.Column("given_at", TZ, nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("withdrawn_at", TZ, nullable=True),
        sa.Column("withdrawn_source", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_marketing_consents_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_consents")),
    )
    op.create_index("ix_marketing_consents_phone_kind", "marketing_consents", ["phone", "kind"])
    op.create_index(
        op.f("ix_marketing_consents_customer_id"), "marketing_consents", ["customer_id"]
    )
    op.create_table(
        "partner_api_keys",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_partner_api_keys_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_api_keys_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_partner_api_keys")),
    )
    op.create_index(op.f("ix_partner_api_keys_partner_id"), "partner_api_keys", ["partner_id"])
    op.create_table(
        "partner_templates",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_templates_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["sms_templates.id"],
            name=op.f("fk_partner_templates_template_id_sms_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "template_id", name=op.f("pk_partner_templates")),
    )
    op.create_table(
        "partner_messages",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["sms_messages.id"],
            name=op.f("fk_partner_messages_message_id_sms_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_messages_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_partner_messages")),
    )
    op.create_index("ix_partner_messages_partner_id_at", "partner_messages", ["partner_id", "at"])
    op.create_table(
        "partner_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_refusals_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_refusals")),
    )
    op.create_index("ix_partner_refusals_partner_id_at", "partner_refusals", ["partner_id", "at"])


def downgrade() -> None:
    op.drop_table("partner_refusals")
    op.drop_table("partner_messages")
    op.drop_table("partner_templates")
    op.drop_table("partner_api_keys")
    op.drop_table("marketing_consents")
    op.drop_table("sms_templates")
    op.drop_table("partners")
