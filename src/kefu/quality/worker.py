"""The quality worker: every ``interval`` seconds it inspects newly closed conversations,
collects web chat's star ratings and brings the search index up to date. Inspection runs the
language models on a thread, off the event loop (WeChat must answer within five seconds in the
same process)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.conversations import search
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.quality import hooks, service
from kefu.quality.inspection import load_rules
from kefu.quality.settings import QualitySettings

log = get_logger(__name__)


# Small batches, each its own transaction: on SQLite a writer holds the one write lock, and
# the web requests of the same process (a sign-in, a reply) must not wait behind a long one.
INSPECT_BATCH = 50
INDEX_BATCH = 500


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: QualitySettings
) -> dict[str, int]:
    rules = load_rules(settings.rules_file)
    async with sessionmaker() as db:
        inspected = await service.inspect_pending(
            db, rules, now=utcnow(), sample_rate=settings.sample_rate, limit=INSPECT_BATCH,
            offload=True,
        )  # fmt: skip
        rated = await service.collect_webchat_ratings(db, utcnow())
        await db.commit()
    async with sessionmaker() as db:
        indexed = await search.index_new(db, batch=INDEX_BATCH, offload=True)
        await db.commit()
    return {"inspected": inspected, "rated": rated, "indexed": indexed}


@dataclass
class Running:
    task: asyncio.Task[None] | None

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def _loop(sessionmaker: async_sessionmaker[AsyncSession], settings: QualitySettings) -> None:
    while True:
        backlog = False
        try:
            done = await run_once(sessionmaker, settings)
            backlog = done["inspected"] == INSPECT_BATCH or done["indexed"] == INDEX_BATCH
        except Exception:  # noqa: BLE001 - the loop must outlive one bad run
            log.exception("quality_run_failed")
        # A backlog (a first start on a month of history) is worked through in short steps.
        await asyncio.sleep(1.0 if backlog else settings.interval)


def start(sessionmaker: async_sessionmaker[AsyncSession], settings: QualitySettings) -> Running:
    hooks.configure(settings)  # the close hook asks CSAT with these settings
    task = None
    if settings.interval > 0:
        task = asyncio.create_task(_loop(sessionmaker, settings), name="quality-worker")
    return Running(task)
