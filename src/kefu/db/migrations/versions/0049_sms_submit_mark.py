"""SMS outbox: a mark written before each submit (issue #24). ``sms_messages.submitted_at`` is
set, and committed, just before a claimed row's PDUs go to the carrier's socket (one UPDATE per
batch of submits). After a crash a claimed row without it provably never reached the carrier and
is queued again at once; one with it waits for the carrier's report as before.

Revision ID: 0049_sms_submit_mark
Revises: 0048_search_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0049_sms_submit_mark"
down_revision = "0048_search_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sms_messages", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("submitted_at")
