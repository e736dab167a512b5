"""Service-centre KPIs, saved and scheduled reports (issue #19).

Revision ID: 0027_service_reports
Revises: 0026_knowledge_dense
"""

from __future__ import annotations

revision = "0027_service_reports"
down_revision = "0026_knowledge_dense"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
