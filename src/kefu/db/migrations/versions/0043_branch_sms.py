"""Smart branch by SMS: tickets and bookings (issue #17). Reserved in the chain before the work began, so that parallel work keeps
one head; empty where the work needed no schema.

Revision ID: 0043_branch_sms
Revises: 0042_scaleout
"""

from __future__ import annotations

revision = "0043_branch_sms"
down_revision = "0042_scaleout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
