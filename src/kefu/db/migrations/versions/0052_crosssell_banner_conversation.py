"""Reserved for issue #18 (H2): a web chat banner click that opens a conversation for an agent.
Filled by the helper that owns it if it needs a schema change; empty until then.

Revision ID: 0052_banner_conversation
Revises: 0051_outbox_autovacuum
"""

from __future__ import annotations

revision = "0052_banner_conversation"
down_revision = "0051_outbox_autovacuum"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
