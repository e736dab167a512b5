"""Conversation search at 10 M messages (issue #19): each word's postings count kept with the
index (``search_word_counts``), so a query knows which of its words is the rarest without a
range scan over the postings. Filled here from the postings already indexed.

Revision ID: 0048_search_scale
Revises: 0047_crosssell_banner
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0048_search_scale"
down_revision = "0047_crosssell_banner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_word_counts",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("postings", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    op.execute(
        "INSERT INTO search_word_counts (token, postings) "
        "SELECT token, count(*) FROM search_tokens GROUP BY token"
    )


def downgrade() -> None:
    op.drop_table("search_word_counts")
