"""Cross-selling, rest: precomputed offer scores, outcomes for retraining, scheduled campaigns (issue #18).

Adds crosssell_scores (per-customer precomputed propensities the offer panel reads) and
crosssell_campaigns.start_tried_at (the campaign scheduler's last attempt).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0038_crosssell_scores
Revises: 0037_branch_vtm
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TZ = sa.DateTime(timezone=True)

revision = "0038_crosssell_scores"
down_revision = "0037_branch_vtm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Per-customer precomputed offer scores, read by the offer panel (kefu.crosssell.scores).
    op.create_table(
        "crosssell_scores",
        sa.Column("customer_no", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(40), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("computed_at", TZ, nullable=False),
        sa.Column("inputs", sa.String(40), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("customer_no", name=op.f("pk_crosssell_scores")),
    )
    # When the campaign scheduler last tried to start a scheduled campaign.
    op.add_column("crosssell_campaigns", sa.Column("start_tried_at", TZ, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crosssell_campaigns") as batch:
        batch.drop_column("start_tried_at")
    op.drop_table("crosssell_scores")
