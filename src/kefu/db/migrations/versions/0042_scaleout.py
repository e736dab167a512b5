"""Scale-out: workers, nginx, the cluster harness (issue #20).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0042_scaleout
Revises: 0041_sms_path
"""

from __future__ import annotations

revision = "0042_scaleout"
down_revision = "0041_sms_path"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
