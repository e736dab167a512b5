"""Reserved for issue #20 (H4): per-table autovacuum for the hot outbox tables on PostgreSQL.
Filled by the helper that owns it; empty until then.

Revision ID: 0051_outbox_autovacuum
Revises: 0050_wechat_recovery
"""

from __future__ import annotations

revision = "0051_outbox_autovacuum"
down_revision = "0050_wechat_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
