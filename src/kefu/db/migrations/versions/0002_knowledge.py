"""Knowledge base: entries, versions, gaps.

Revision ID: 0002_knowledge
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_knowledge"
down_revision = "0001"
branch_labels = ("knowledge",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entries")),
    )
    with op.batch_alter_table("kb_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_entries_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_entries_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_entries_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("paraphrases", sa.JSON(), nullable=False),
        sa.Column("answer_sms", sa.Text(), nullable=False),
        sa.Column("answer_wechat", sa.Text(), nullable=False),
        sa.Column("answer_agent", sa.Text(), nullable=False),
        sa.Column("internal_note", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["kb_entries.id"],
            name=op.f("fk_kb_versions_entry_id_kb_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_versions")),
        sa.UniqueConstraint("entry_id", "number", name="uq_kb_versions_entry_number"),
    )

    op.create_table(
        "kb_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["kb_entries.id"],
            name=op.f("fk_kb_gaps_entry_id_kb_entries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_gaps")),
    )
    with op.batch_alter_table("kb_gaps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_gaps_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_gaps_kind"), ["kind"], unique=False)


def downgrade() -> None:
    op.drop_table("kb_gaps")
    op.drop_table("kb_versions")
    op.drop_table("kb_entries")
