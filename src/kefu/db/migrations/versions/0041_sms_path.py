"""SMS path: cost per message and the carrier client (issue #24).

Created empty by the lead so parallel work keeps one chain; its part fills it in (an empty
upgrade is left only where the part needed no schema, and then this docstring says so).
The send API's cost per message (H6) needed no schema: nothing of it is here.

Revision ID: 0041_sms_path
Revises: 0040_analytics_region
"""

from __future__ import annotations

revision = "0041_sms_path"
down_revision = "0040_analytics_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
