"""Dense retrieval of the knowledge base (issue #22): no schema in the end (embeddings are cached
by content hash on disk, knowledge/dense.py). Kept, empty, so the revision chain stays whole.

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
