"""Smart branch II: paperless forms, appointments, remote tellers (issue #17).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).

Revision ID: 0032_branch_forms
Revises: 0031_reports_daily
"""

from __future__ import annotations

revision = "0032_branch_forms"
down_revision = "0031_reports_daily"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
