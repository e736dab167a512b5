"""Scale-out: workers, nginx, the cluster harness (issue #20). No schema: the lease the
background loops run under (kefu.bus.lease) is a Redis key, a PostgreSQL advisory lock or a
file lock beside a SQLite database, never a table, so a dead holder's lease is freed by the
engine itself.

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
