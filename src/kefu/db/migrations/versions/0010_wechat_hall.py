"""WeChat business hall: menus, regions, H5 binding.

Revision ID: 0010_wechat_hall
Revises: 0006_merge
"""

from __future__ import annotations

revision = "0010_wechat_hall"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Tables of this branch (filled in by the package that owns it)."""


def downgrade() -> None:
    """Drop what upgrade created."""
