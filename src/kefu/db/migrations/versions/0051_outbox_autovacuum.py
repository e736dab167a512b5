"""Per-table autovacuum for the hot outbox tables on PostgreSQL (issue #20).

Each of these tables is polled through an index on its state column, and each message moves
its row through two or three states: every move leaves a dead entry in that index, which the
poll walks until a vacuum removes it (docs/deploy.md, "autovacuum": the SMS outbox's poll read
8,650 buffers to find no row before ``VACUUM sms_messages``, 3 after). PostgreSQL's defaults
vacuum a table once 20 % of it is dead: on a table of millions of rows that is hours of sends
with the poll slowing all along. Here:

- ``autovacuum_vacuum_scale_factor = 0.01``: vacuum once 1 % of the rows are dead, not 20 %;
  the dead entries a poll can meet stay a small, bounded number as the table grows.
- ``autovacuum_vacuum_threshold = 1000``: plus a fixed 1,000 (default 50), so a small table
  (a new install, the demo) is not vacuumed after every few dozen sends for nothing.
- ``autovacuum_analyze_scale_factor = 0.02`` (default 0.1): the share of rows in each state
  swings with the traffic; fresh statistics keep the planner on the state index for the poll
  (a stale "most rows are queued" could turn it to a scan). ANALYZE reads a fixed-size sample,
  so doing it more often costs little.

The tables: ``sms_messages`` (the SMS outbox, index on state, id), ``wechat_inbound`` (every
callback message, index on state, received_at; the recovery polls it) and
``webhook_deliveries`` (the webhook outbox, one row per SMS status callback; index on status,
next_attempt_at). ``wechat_outbound`` and ``webchat_messages`` also change state once a row,
but have no index on it and nothing polls them by it: their updates are HOT (no new index
entry) and the defaults suffice.

The server's ``autovacuum_naptime`` (how often autovacuum looks) is a server setting, not a
table's: docs/deploy.md says what to set. A DBA's own values (``ALTER TABLE … SET``) after this
migration stand: later migrations do not touch them. SQLite and MariaDB have no such setting.

Revision ID: 0051_outbox_autovacuum
Revises: 0050_wechat_recovery
"""

from __future__ import annotations

from alembic import op

revision = "0051_outbox_autovacuum"
down_revision = "0050_wechat_recovery"
branch_labels = None
depends_on = None

TABLES = ("sms_messages", "wechat_inbound", "webhook_deliveries")
SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    options = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({options})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    names = ", ".join(SETTINGS)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({names})")
