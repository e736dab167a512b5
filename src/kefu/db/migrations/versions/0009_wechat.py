"""WeChat channel: official accounts' inbound dedupe, follower identities, outbound state.

Revision ID: 0009_wechat
Revises: 0006_merge
"""

from __future__ import annotations

revision = "0009_wechat"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Tables of this branch (filled in by the package that owns it)."""


def downgrade() -> None:
    """Drop what upgrade created."""
