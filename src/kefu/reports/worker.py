"""The running server's reports task: every ``reports.rollup_interval`` seconds, the rollup
of the hours that changed, one presence sample per signed-in agent, and the schedules that
are due. Each step commits on its own; a failing round is logged and the next one runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.logs import get_logger
from kefu.reports import schedules
from kefu.reports.rollup import rollup
from kefu.reports.settings import ReportsSettings

log = get_logger(__name__)


async def one_round(
    sessionmaker: async_sessionmaker[AsyncSession], settings: ReportsSettings, zone: ZoneInfo
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        try:
            await rollup(session, now=now, zone=zone)
            await session.commit()
        except Exception:  # noqa: BLE001 - the task must survive one bad round
            await session.rollback()
            log.exception("reports_rollup_failed")
    async with sessionmaker() as session:
        try:
            await schedules.run_due(session, settings=settings, zone=zone, now=now)
            await session.commit()
        except Exception:  # noqa: BLE001
            await session.rollback()
            log.exception("reports_schedules_failed")


def start(
    sessionmaker: async_sessionmaker[AsyncSession], settings: ReportsSettings, zone: ZoneInfo
) -> Callable[[], Awaitable[None]]:
    """Starts the rounds; returns what stops them."""

    async def loop() -> None:
        # The first round waits an interval too: a server starting (or a test's app) does not
        # begin with a full re-read; `kefu demo` rolls its seeded history up itself.
        while True:
            await asyncio.sleep(settings.rollup_interval)
            await one_round(sessionmaker, settings, zone)

    task = asyncio.create_task(loop(), name="reports-rollup")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
