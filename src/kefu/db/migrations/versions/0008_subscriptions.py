"""Subscriptions (定制): bill ready, repayment reminders, balance alerts, and their scheduler state.

Revision ID: 0008_subscriptions
Revises: 0006_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_subscriptions"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The scheduler reads the bound phones of a page of customers: without this index every
    # page scanned the whole of channel_identities (see docs/channels/sms.md, Measured).
    op.create_index(
        op.f("ix_channel_identities_customer_id"), "channel_identities", ["customer_id"]
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=True),
        sa.Column("threshold_fen", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_subscriptions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "customer_id", "service", "channel", name="uq_subscriptions_customer_id"
        ),
    )
    op.create_table(
        "subscription_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("today", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("already_sent", sa.Integer(), nullable=False),
        sa.Column("unbound", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("by_service", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_runs")),
    )
    op.create_table(
        "subscription_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("sms_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_subscription_notices_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["subscription_runs.id"],
            name=op.f("fk_subscription_notices_run_id_subscription_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sms_message_id"],
            ["sms_messages.id"],
            name=op.f("fk_subscription_notices_sms_message_id_sms_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_subscription_notices_key")),
    )
    op.create_index(
        op.f("ix_subscription_notices_customer_id"), "subscription_notices", ["customer_id"]
    )
    op.create_index(
        "ix_subscription_notices_service_created_at",
        "subscription_notices",
        ["service", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("subscription_notices")
    op.drop_table("subscription_runs")
    op.drop_table("subscriptions")
    fk = "fk_channel_identities_customer_id_customers"
    mysql = op.get_bind().dialect.name == "mysql"
    if mysql:
        # MySQL/MariaDB dropped the foreign key's own index when this one was created and refuse
        # to drop this one under it: the key comes off and back on, with an index of its own.
        op.drop_constraint(fk, "channel_identities", type_="foreignkey")
    op.drop_index(op.f("ix_channel_identities_customer_id"), table_name="channel_identities")
    if mysql:
        op.create_foreign_key(
            fk, "channel_identities", "customers", ["customer_id"], ["id"], ondelete="CASCADE"
        )
