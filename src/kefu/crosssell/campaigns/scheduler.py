"""Starts scheduled campaigns when their time comes: a background loop of the app (and of
``kefu run workers``) that every ``INTERVAL`` seconds looks for drafts whose ``scheduled_for``
has passed and starts each through ``service.start`` — every refusal of a start by hand
applies (quiet hours, caps, an unapproved template, an empty segment), and is kept on the
campaign for its page.

Safe with several processes: a process first claims the attempt (``UPDATE … SET
start_tried_at = now WHERE status = 'draft' AND start_tried_at`` is empty or older than
``RETRY``; one process's update wins), and the start's own claim is a guarded UPDATE too. A
refused start is tried again after ``RETRY`` (quiet hours end; a cap frees up).

Each look also sends what WeChat campaigns left queued (``wechat.send_queued``: a start by
hand whose sending was cut short, quiet hours that have ended), when the WeChat channel runs in
this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.bank.port import BankPort
from kefu.crosssell.campaigns import service, wechat
from kefu.crosssell.models import Campaign
from kefu.db.base import utcnow
from kefu.logs import get_logger

log = get_logger(__name__)

INTERVAL = 30.0  # seconds between looks
RETRY = timedelta(minutes=10)  # a refused scheduled start is tried again after this
ACTOR = "scheduler"


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    sending: Callable[[], service.Sending],
    *,
    now: datetime | None = None,
) -> dict[int, str]:
    """Tries every due campaign once; returns campaign id → "started" or the refusal."""
    now = now or utcnow()
    tried = or_(Campaign.start_tried_at.is_(None), Campaign.start_tried_at <= now - RETRY)
    async with sessionmaker() as db:
        due = list(await db.scalars(select(Campaign.id).where(
            Campaign.status == "draft", Campaign.scheduled_for <= now, tried)))  # fmt: skip
    outcome: dict[int, str] = {}
    for campaign_id in due:
        async with sessionmaker() as db:
            claimed = await db.execute(
                update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "draft", tried)
                .values(start_tried_at=now).execution_options(synchronize_session=False)
            )  # fmt: skip
            await db.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another process has it
        async with sessionmaker() as db:
            try:
                started = await service.start(
                    db, bank, campaign_id, sending(), actor=ACTOR, now=now
                )
            except service.CampaignRefused as exc:
                await db.rollback()
                await service.note_refusal(db, campaign_id, f"定时开始未成功：{exc.reason}")
                await db.commit()
                outcome[campaign_id] = exc.reason
                log.info("campaign_schedule_refused", campaign=campaign_id, reason=exc.reason)
                continue
            await db.commit()
        outcome[campaign_id] = "started"
        log.info("campaign_scheduled_start", campaign=campaign_id, queued=started.queued)
    current = sending()
    if current.wechat is not None:
        sent = await wechat.send_queued(sessionmaker, current.wechat, current.policy, now=now)
        if any(sent.values()):
            log.info("campaign_wechat_sent", **sent)
    return outcome


@dataclass
class Running:
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Cancels the loop (a start in flight rolls back with its transaction)."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def _loop(sessionmaker, bank, sending, interval: float, wake) -> None:  # type: ignore[no-untyped-def]
    while True:
        await asyncio.sleep(interval)  # not at once: a process's start-up is busy enough
        try:
            if any(v == "started" for v in (await run_once(sessionmaker, bank, sending)).values()):
                wake()
        except Exception:  # noqa: BLE001 - the loop must outlive one bad run
            log.exception("campaign_scheduler_failed")


def start(
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    sending: Callable[[], service.Sending],
    *,
    interval: float = INTERVAL,
    wake: Callable[[], None] = lambda: None,
) -> Running:
    """``wake``: tells the SMS sender that messages were queued."""
    return Running(asyncio.create_task(_loop(sessionmaker, bank, sending, interval, wake),
                                       name="campaign-scheduler"))  # fmt: skip
