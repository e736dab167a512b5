"""Behaviour analytics I, rest: regions, pre-seeded replays, role-aware tabs (issue #15).

Created empty by the lead so parallel work keeps one chain. **This part needed no schema**, so
it stays empty: regions are a column the event store already had (filled at the collector from
a derived file, not a table), the demo's recorded replays go into the existing
``analytics_replay_chunks`` (0035), the tab bar is a template change, and the retention of
behaviour events works on the event store (DuckDB/ClickHouse), not on kefu's database.

Revision ID: 0040_analytics_region
Revises: 0039_reports_scale
"""

from __future__ import annotations

revision = "0040_analytics_region"
down_revision = "0039_reports_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
