"""SMS outbox: a mark written before each submit (issue #24). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0049_sms_submit_mark
Revises: 0048_search_scale
"""

from __future__ import annotations

revision = "0049_sms_submit_mark"
down_revision = "0048_search_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
