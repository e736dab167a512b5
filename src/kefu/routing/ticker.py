"""The routing ticker: the work no request triggers — lapsed offers, silent agents set
offline, waiting conversations assigned, SLA checks, webhook deliveries — in rounds every
``routing_tick`` seconds (a setting; 0 turns it off, as tests that drive rounds themselves do).
Started by kefu.runtime with the channels and the other workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.logs import get_logger
from kefu.routing import service
from kefu.webhooks import service as webhooks
from kefu.workspace import presence

log = get_logger(__name__)

SLA_EVERY = 15  # rounds between SLA checks


async def tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    *,
    check_sla: bool,
    heartbeat_seconds: int = 30,
) -> None:
    """One round; each step in a transaction of its own, and one failing step does not stop
    the others."""
    for step in ("expire", "assign", "sla", "webhooks"):
        if step == "sla" and not check_sla:
            continue
        async with sessionmaker() as session:
            try:
                now = datetime.now(UTC)
                if step == "expire":
                    await service.expire_offers(session, now=now)
                    # Presence ends when the pages stop their heartbeat (browser closed).
                    await presence.expire_silent(session, now=now,
                                               heartbeat_seconds=heartbeat_seconds)  # fmt: skip
                elif step == "assign":
                    await service.assign_waiting(session, now=now)
                elif step == "sla":
                    await service.check_sla(session, now=now)
                else:
                    await webhooks.deliver_due(session, client=client, now=now)
                await session.commit()
            except Exception:  # noqa: BLE001 - the ticker must survive one bad round
                await session.rollback()
                log.exception("routing_tick_failed", step=step)


def start_ticker(
    sessionmaker: async_sessionmaker[AsyncSession], *, interval: float, heartbeat_seconds: int
) -> Callable[[], Awaitable[None]]:
    """Starts the rounds every ``interval`` seconds; returns what stops them."""

    async def loop() -> None:
        rounds = 0
        async with httpx.AsyncClient() as client:
            while True:
                await tick(sessionmaker, client, check_sla=rounds % SLA_EVERY == 0,
                           heartbeat_seconds=heartbeat_seconds)  # fmt: skip
                rounds += 1
                await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="routing-ticker")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
