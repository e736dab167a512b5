"""Subscriptions (定制): bill ready, repayment reminders, balance alerts, and their scheduler state.

Revision ID: 0008_subscriptions
Revises: 0006_merge
"""

from __future__ import annotations

revision = "0008_subscriptions"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Tables of this branch (filled in by the package that owns it)."""


def downgrade() -> None:
    """Drop what upgrade created."""
