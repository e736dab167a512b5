"""Behaviour analytics under kefu's retention (``kefu.retention``, docs/retention.md): events
of the days before ``retention_days`` and replay chunks older than ``replay_retention_days``
are purged, except a held customer's.

How a held customer is matched: the event store never sees a customer number, only its keyed
hash (HMAC-SHA256 with the analytics key, computed at the collector). Retention computes the
same hash of each held customer's bank customer number and keeps every row of the visitors
(browser/app installations) that ever carried one of those hashes — so the pages a held
customer saw before signing in on the same device stay too — and the replays of those
visitors. A hold on a single conversation holds no behaviour events (they are not tied to a
conversation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics.enrich import customer_hash
from kefu.analytics.models import ReplayChunk
from kefu.analytics.settings import AnalyticsSettings
from kefu.analytics.store.base import EventStore, held_clause

BATCH = 500


@dataclass
class AnalyticsRetention:
    store: EventStore
    settings: AnalyticsSettings
    hash_key: bytes

    def hashes(self, customer_numbers: Iterable[str]) -> list[str]:
        return sorted({customer_hash(self.hash_key, n) for n in customer_numbers if n})

    def cutoff_day(self, today: date) -> date:
        """The first day kept: ``retention_days`` days up to and including today."""
        return today - timedelta(days=self.settings.retention_days - 1)

    async def events(
        self, today: date, held_customers: Iterable[str], *, dry_run: bool
    ) -> tuple[int, int]:
        """(rows due, rows held) of the event store; deleted unless ``dry_run``. DuckDB
        blocks: run on a worker thread, not the event loop."""
        keep = self.hashes(held_customers)
        return await asyncio.to_thread(
            lambda: self.store.purge_before(self.cutoff_day(today), keep, dry_run=dry_run)
        )

    async def held_visitors(self, held_customers: Iterable[str]) -> set[str]:
        keep = self.hashes(held_customers)
        if not keep:
            return set()
        marks = ", ".join("?" * len(keep))
        sql = f"SELECT DISTINCT visitor_id FROM events WHERE {held_clause(marks)}"
        rows = await asyncio.to_thread(self.store.query, sql, [*keep, *keep])
        return {r[0] for r in rows}

    async def replays(
        self, db: AsyncSession, now: datetime, held_customers: Iterable[str], *, dry_run: bool
    ) -> tuple[int, int]:
        """(chunks due, chunks held) in kefu's database; the caller commits."""
        visitors = await self.held_visitors(held_customers)
        old = ReplayChunk.received_at < now - timedelta(days=self.settings.replay_retention_days)
        rows = (await db.execute(select(ReplayChunk.id, ReplayChunk.visitor_id).where(old))).all()
        due = [i for i, visitor in rows if visitor not in visitors]
        if not dry_run:
            for start in range(0, len(due), BATCH):
                await db.execute(
                    ReplayChunk.__table__.delete().where(
                        ReplayChunk.id.in_(due[start : start + BATCH])
                    )
                )
        return len(due), len(rows) - len(due)


def for_app(app: Any) -> AnalyticsRetention:
    """The running app's event store (opened on first use)."""
    from kefu.analytics.service import analytics_of, hash_key

    settings = app.state.settings
    return AnalyticsRetention(analytics_of(app).store, settings.analytics, hash_key(settings))


def open_for(settings: Any) -> AnalyticsRetention | None:
    """A command's own handle on the store (close ``.store`` after); None when a running
    kefu holds the DuckDB file (one process per file): purge from the page then."""
    import duckdb

    from kefu.analytics.service import hash_key, open_store

    try:
        store = open_store(settings)
    except duckdb.IOException:
        return None
    return AnalyticsRetention(store, settings.analytics, hash_key(settings))
