"""Dense retrieval of the knowledge base (issue #22).

Revision ID: 0026_knowledge_dense
Revises: 0025_sms_reports
"""

from __future__ import annotations

revision = "0026_knowledge_dense"
down_revision = "0025_sms_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
