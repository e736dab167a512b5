"""Alerts when a page starts failing on a browser or OS version: found by
:func:`kefu.analytics.analyses.failures.failing_versions` over the last days, recorded once
each (``analytics_failure_alerts``) and sent to the webhook subscribers of
``analytics.failing_version`` through kefu's webhook outbox — signed (``X-Kefu-Signature``),
retried with back-off, and only to addresses the outbound-URL guard lets through
(kefu.webhooks, delivered by the routing ticker). The in-app alert is on ``/analytics``.

The checker is one of the background loops (``kefu.runtime.WORKERS``): it runs in ``kefu serve``
(role ``all``) on the app's store once the app opened it, and in ``kefu run workers`` under the
workers' lease on a ClickHouse store of its own, so N web processes never send N alerts. It
never opens a DuckDB file itself: DuckDB lets one process hold the file, the one collecting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.analytics.analyses import Period
from kefu.analytics.analyses.failures import failing_versions
from kefu.analytics.models import FailureAlert
from kefu.analytics.store.base import EventStore, StoreClosed
from kefu.logs import get_logger
from kefu.webhooks.service import emit

log = get_logger(__name__)
EVENT = "analytics.failing_version"
T = TypeVar("T")


async def check(
    db: AsyncSession, store: EventStore, site: str, today: date, days: int = 7
) -> list[dict[str, Any]]:
    """New failing versions of the last ``days`` days, recorded and queued to webhooks in one
    transaction (so a crash never alerts twice nor loses one); returns the new ones."""
    period = Period.last(site, days, today)

    def find() -> list[dict[str, Any]]:
        return failing_versions(store, period, "browser") + failing_versions(store, period, "os")

    found = await _finish_in_thread(find)
    known = {
        (r.page, r.by, r.name, r.version)
        for r in (await db.scalars(select(FailureAlert).where(FailureAlert.site == site))).all()
    }
    new: list[dict[str, Any]] = []
    for row in found:
        by = "browser" if "browser" in row else "os"
        key = (row["page"], by, row[by], row["version"])
        if key in known:
            continue
        known.add(key)
        db.add(FailureAlert(site=site, page=row["page"], by=by, name=row[by],
                            version=row["version"], rate=row["rate"], baseline=row["baseline"],
                            sessions=row["sessions"]))  # fmt: skip
        payload = {"site": site, "page": row["page"], "by": by, "name": row[by],
                   "version": row["version"], "failure_rate": round(row["rate"], 4),
                   "baseline": round(row["baseline"], 4), "sessions": row["sessions"],
                   "failing_since": row["since"], "details": "/analytics/failures"}  # fmt: skip
        await emit(db, event=EVENT, payload=payload)
        new.append(payload)
    await db.commit()
    return new


async def _finish_in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a worker thread. Cancelled, it waits for the thread to leave before passing
    the cancellation on: a cancelled task's query would otherwise run on in its thread, and
    whoever stops the checker closes the store next (DuckDB refuses to close a busy
    connection). The store's ``close`` interrupts a query still running, so the wait ends."""
    future = asyncio.ensure_future(run_in_threadpool(fn))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


def start_checker(
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Callable[[], EventStore | None],
) -> asyncio.Task[None]:
    """The periodic check every ``settings.alert_check_seconds`` (``settings``: the analytics
    section) on ``store()`` (None: no store to look at this round); cancel the task to stop
    it (it holds nothing across its sleeps)."""

    async def run() -> None:
        while True:
            await asyncio.sleep(settings.alert_check_seconds)
            try:
                found = store()
            except Exception:  # noqa: BLE001 - a store down this round: try the next one
                log.exception("analytics.alert_store_failed")
                continue
            if found is None:  # nobody opened the store yet: nothing new to check
                continue
            for site in settings.sites:
                try:
                    async with sessionmaker() as db:
                        await check(db, found, site.key, datetime.now(UTC).date())
                except StoreClosed:  # the process is shutting down: nothing to report
                    break
                except Exception:  # noqa: BLE001 - the checker must survive one bad round
                    log.exception("analytics.alert_check_failed", site=site.key)

    return asyncio.create_task(run(), name="analytics-alerts")


class OwnStore:
    """The store of a process that collects no events (``kefu run workers``): a ClickHouse
    server when ``clickhouse_url`` is set, connected on first use; never the DuckDB file,
    which the collecting web process holds (said once in the log: alerts then need
    ClickHouse, or role ``all``)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.store: EventStore | None = None
        self._warned = False

    def __call__(self) -> EventStore | None:
        if self.store is None:
            if not self.settings.analytics.clickhouse_url:
                if not self._warned:
                    self._warned = True
                    log.warning("analytics.alerts_need_clickhouse", reason="the DuckDB file "
                                "belongs to the web process that collects; set "
                                "KEFU_ANALYTICS clickhouse_url or run role all")  # fmt: skip
                return None
            from kefu.analytics.service import open_store

            self.store = open_store(self.settings)
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
