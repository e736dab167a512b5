"""Conversation search at 10 M messages (issue #19). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0048_search_scale
Revises: 0047_crosssell_banner
"""

from __future__ import annotations

revision = "0048_search_scale"
down_revision = "0047_crosssell_banner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
