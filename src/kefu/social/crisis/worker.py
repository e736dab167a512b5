"""The crisis worker: every ``KEFU_CRISIS.interval`` seconds it reads the social posts stored
since its last run, feeds them to the burst detector (kefu.social.detector), stores what
bursts as alerts and notifies the on-duty supervisors, then escalates the alerts nobody
acknowledged in time.

Restart-safe: how far it read is a row (``crisis_cursor``: the last post id), moved in the
same transaction as the alerts those posts raised. A new process first re-reads
``replay_hours`` of the stream before the cursor so the detector knows the baselines and any
burst under way; alerts found again fold into their rows (kefu.social.crisis.service.
store_alert: one row per burst), so a restart neither loses a burst nor duplicates an alert.
If a run fails after the detector counted its posts, the detector is rebuilt the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.social.crisis import service
from kefu.social.crisis.models import CrisisAlert, CrisisCursor
from kefu.social.crisis.notify import Notifier
from kefu.social.crisis.settings import CrisisSettings
from kefu.social.detector import BurstAlert, BurstDetector, StreamPost
from kefu.social.models import SocialPost

log = get_logger(__name__)

CURSOR = "social_posts"
BATCH = 1000
RECENT_PER_TERM = 500  # post ids remembered per term, to name an alert's posts


@dataclass
class RunResult:
    posts: int = 0
    new_alerts: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


def stream_post(post: SocialPost) -> StreamPost:
    """What the detector reads of a stored post: its keywords and topic as terms, negative by
    its sentiment label, its influence as reach."""
    terms = tuple(dict.fromkeys(t[:64] for t in [*(post.keywords or []), post.topic] if t))
    return StreamPost(
        at=post.posted_at, terms=terms, negative=post.sentiment_label == "negative",
        reach=max(1.0, float(post.influence or 0.0)),
    )  # fmt: skip


class CrisisWorker:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: CrisisSettings,
        notifier: Notifier,
    ) -> None:  # fmt: skip
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.notifier = notifier
        self._reset()

    def _reset(self) -> None:
        window = timedelta(seconds=self.settings.window_seconds)
        self.detector = BurstDetector(window=window)
        # The same burst: its term seen again within the detector's cool-down of the last time.
        self.gap = window * self.detector.cooldown
        self.recent: dict[str, deque[tuple[datetime, int]]] = {}
        self.primed = False

    async def run_once(self, now: datetime | None = None) -> RunResult:
        now = now or utcnow()
        try:
            result = await self._run(now)
        except BaseException:
            self._reset()  # the detector counted posts the cursor did not keep: rebuild
            raise
        await self.notifier.deliver(self.sessionmaker)
        return result

    async def _run(self, now: datetime) -> RunResult:
        result = RunResult()
        async with self.sessionmaker() as db:
            cursor = await db.get(CrisisCursor, CURSOR, with_for_update=True)
            if cursor is None:
                cursor = CrisisCursor(name=CURSOR, last_post_id=0, updated_at=now)
                db.add(cursor)
                await db.flush()
            active = await self._active(db)
            if not self.primed:
                await self._replay(db, cursor, active, now, result)
                self.primed = True
            while True:
                posts = (
                    await db.scalars(
                        select(SocialPost)
                        .where(SocialPost.id > cursor.last_post_id)
                        .order_by(SocialPost.id)
                        .limit(BATCH)
                    )
                ).all()
                if not posts:
                    break
                # Stored in the order the streams caught up (a channel's mentions, then its
                # search, each oldest first): the detector wants the posts' own time order.
                for post in sorted(posts, key=lambda p: (p.posted_at, p.id)):
                    await self._feed(db, post, active, now, result)
                cursor.last_post_id = posts[-1].id
                cursor.stream_at = max(p.posted_at for p in posts) if cursor.stream_at is None \
                    else max(cursor.stream_at, *(p.posted_at for p in posts))  # fmt: skip
                result.posts += len(posts)
            if result.posts:
                # Not on an empty run: a detector whose clock ran ahead of any post would
                # count a late batch (a poller catching up) all in its current window.
                self.detector.advance(now)
            for alert_id in result.new_alerts:
                alert = await db.get(CrisisAlert, alert_id)
                assert alert is not None
                await self.notifier.queue(db, alert, 0)
            ack_after = timedelta(minutes=self.settings.ack_minutes)
            for alert_id in await service.overdue(db, now=now, ack_after=ack_after):
                alert = await service.escalate(db, alert_id, actor="system", now=now)
                if alert is not None:
                    await self.notifier.queue(db, alert, 1)
                    result.escalated.append(alert_id)
            cursor.updated_at = now
            await db.commit()
        return result

    async def _active(self, db: AsyncSession) -> dict[str, list[CrisisAlert]]:
        rows = await db.scalars(select(CrisisAlert).where(CrisisAlert.state != "closed"))
        active: dict[str, list[CrisisAlert]] = {}
        for row in rows:
            active.setdefault(row.term, []).append(row)
        return active

    async def _replay(
        self, db: AsyncSession, cursor: CrisisCursor, active: dict[str, list[CrisisAlert]],
        now: datetime, result: RunResult,
    ) -> None:  # fmt: skip
        if cursor.last_post_id == 0 or cursor.stream_at is None or not self.settings.replay_hours:
            return
        since = cursor.stream_at - timedelta(hours=self.settings.replay_hours)
        last = 0
        while True:
            posts = (
                await db.scalars(
                    select(SocialPost)
                    .where(SocialPost.id > last, SocialPost.id <= cursor.last_post_id,
                           SocialPost.posted_at >= since)
                    .order_by(SocialPost.id)
                    .limit(BATCH)
                )
            ).all()  # fmt: skip
            if not posts:
                break
            for post in sorted(posts, key=lambda p: (p.posted_at, p.id)):
                await self._feed(db, post, active, now, result)
            last = posts[-1].id
        log.info("crisis_replayed", upto=cursor.last_post_id, since=since.isoformat())

    async def _feed(
        self, db: AsyncSession, post: SocialPost, active: dict[str, list[CrisisAlert]],
        now: datetime, result: RunResult,
    ) -> None:  # fmt: skip
        if post.spam:
            return
        item = stream_post(post)
        raised = {a.term: a for a in self.detector.feed(item)}
        for term in item.terms:
            self.recent.setdefault(term, deque(maxlen=RECENT_PER_TERM)).append((item.at, post.id))
            if term in raised:
                await self._store(db, raised[term], active, now, result)
                continue
            for row in active.get(term, ()):
                # Its label's terms, not the term alone: an alert led by 信用卡 with 盗刷
                # related counts the card-fraud posts, not every post about cards.
                label = service.label_terms(service.alert_label(row))
                within = row.started_at <= item.at <= row.last_seen_at + self.gap
                within = within and all(t in item.terms for t in label)
                if within and service.fold_post(
                    row, post.id, at=item.at, negative=item.negative, reach=item.reach
                ):
                    row.updated_at = now

    async def _store(
        self, db: AsyncSession, alert: BurstAlert, active: dict[str, list[CrisisAlert]],
        now: datetime, result: RunResult,
    ) -> None:  # fmt: skip
        ids = [i for at, i in self.recent.get(alert.term, ()) if at >= alert.started_at]
        row, created = await service.store_alert(db, alert, post_ids=ids, gap=self.gap, now=now)
        if created:
            result.new_alerts.append(row.id)
        if row.state != "closed" and row not in active.setdefault(row.term, []):
            active[row.term].append(row)


@dataclass
class Running:
    task: asyncio.Task[None] | None

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def loop(worker: CrisisWorker, interval: float) -> None:
    while True:
        try:
            await worker.run_once()
        except Exception:  # noqa: BLE001 - the loop must outlive one bad run
            log.exception("crisis_run_failed")
        await asyncio.sleep(interval)


def start(sessionmaker: async_sessionmaker[AsyncSession], settings: CrisisSettings,
          services: dict[str, Any]) -> tuple[CrisisWorker, Running]:  # fmt: skip
    """The worker on what the channels offer (the SMS outbox, WeChat's sender), looping when
    an interval is set; the desk uses its notifier for manual escalations either way."""
    notifier = Notifier(settings, sms=services.get("sms"), wechat=services.get("wechat_outbound"))
    worker = CrisisWorker(sessionmaker, settings, notifier)
    task = None
    if settings.interval > 0:
        task = asyncio.create_task(loop(worker, settings.interval), name="crisis-worker")
    return worker, Running(task)
