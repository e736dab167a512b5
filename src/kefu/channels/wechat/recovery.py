"""Answers a dead process left: the recovery of WeChat inbound rows nobody is answering.

A callback stores its message (``answering``) and answers it in a task of its own process
(``service.py``). When that process dies (kill -9, an out-of-memory kill, a lost machine) the
row would stay ``answering`` for ever: WeChat's retries stop within about 15 s, the retry that
finds the row marks it ``deferred`` and answers ``success``, and the customer gets nothing —
an accepted message dropped. The same holds for a row ``ready`` whose waiting request died,
and for a ``deferred`` row whose custom-send never ran.

The recovery runs with the channel's relay (one process: ``kefu serve``; several: under the
workers' lease, ``kefu run workers``). Every ``RECOVER_EVERY`` seconds it looks for rows in
those states older than ``wechat_recover_after`` (well past WeChat's last retry and the
answer's own retries), claims each with a conditional UPDATE into ``recovering`` that also
moves ``received_at`` (so a second recovery, or the next round, does not take it again), and:

- a row with its answer already stored (``ready``/``deferred``) is sent as it is;
- a row without one is answered now, as the callback would (``WechatChannel.compute`` on the
  message the row kept), and the answer stored with ``deferred`` in the same transaction as
  the pipeline's rows — the pipeline does not dedupe, so an original that was only slow finds
  the row taken and rolls its own answer back (``WechatChannel._settle``);

then sends it through custom-send under the idempotency key the original would have used,
``answer:{row_id}`` (unique in ``wechat_outbound``), so it goes out once whoever sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, or_, select, update

from kefu.channels.wechat.messages import restored
from kefu.channels.wechat.models import InboundState, WechatInbound
from kefu.db.base import utcnow
from kefu.logs import get_logger

if TYPE_CHECKING:
    from kefu.channels.wechat.service import WechatChannel

log = get_logger(__name__)

RECOVER_EVERY = 10.0  # seconds between looks for rows left behind
BATCH = 20  # rows claimed per look (the next look takes the rest)
# A row already ``recovering`` is taken again only when its recovery itself looks dead: its
# claim moved received_at, and an answer plus a send take seconds, not minutes.
RECLAIM_AFTER = timedelta(minutes=5)
LEFT_BEHIND = (InboundState.ANSWERING, InboundState.DEFERRED, InboundState.READY)


class Recovery:
    """The loop and one round of it (``run_once``, which the tests call directly)."""

    def __init__(self, channel: WechatChannel, *, after: float) -> None:
        self.channel = channel
        self.after = timedelta(seconds=after)
        self._task: asyncio.Task[None] | None = None
        self.recovered = 0  # rows this process answered for a dead one (for the operator)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="wechat-recovery")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - a database hiccup: look again next round
                log.exception("wechat_recovery_failed")
            # A short ``after`` (tests, drills) is looked at as often as it asks for.
            await asyncio.sleep(min(RECOVER_EVERY, self.after.total_seconds() / 2))

    async def run_once(self) -> int:
        """Claims and answers the rows left behind now; how many it answered."""
        answered = 0
        for row_id in await self._claim():
            try:
                answered += await self._answer(row_id)
            except Exception:  # noqa: BLE001 - one row must not stop the others
                log.exception("wechat_recovery_row_failed", row=row_id)
        self.recovered += answered
        return answered

    def _left_behind(self) -> ColumnElement[bool]:
        now = utcnow()
        return or_(
            and_(WechatInbound.state.in_(LEFT_BEHIND), WechatInbound.received_at < now - self.after),
            and_(WechatInbound.state == InboundState.RECOVERING,
                 WechatInbound.received_at < now - RECLAIM_AFTER),
        )  # fmt: skip

    async def _claim(self) -> list[int]:
        channel = self.channel
        async with channel.sessionmaker() as db:
            candidates = list(
                await db.scalars(
                    select(WechatInbound.id)
                    .where(self._left_behind())
                    .order_by(WechatInbound.received_at)
                    .limit(BATCH)
                )
            )
        claimed = []
        for row_id in candidates:
            # The same condition again, in the UPDATE: of two recoveries (or a recovery and a
            # slow original settling now) one moves the row.
            async with channel.sessionmaker() as db:
                result = await db.execute(
                    update(WechatInbound)
                    .where(WechatInbound.id == row_id, self._left_behind())
                    .values(state=InboundState.RECOVERING, received_at=utcnow())
                )
                await db.commit()
            if result.rowcount == 1:
                claimed.append(row_id)
        return claimed

    async def _answer(self, row_id: int) -> int:
        """Answers one claimed row; 1 when an answer went out (or was sent before under its
        key), 0 when there was nothing to say or it failed."""
        channel = self.channel
        async with channel._answering, channel.sessionmaker() as db:
            row = await db.get(WechatInbound, row_id)
            if row is None or row.state != InboundState.RECOVERING:
                return 0
            account = channel.accounts.get(row.account)
            if account is None:  # the account was removed from the configuration since
                row.state, row.error = InboundState.FAILED, "account no longer configured"
                await db.commit()
                return 0
            answer = row.answer
            if answer is None:
                message, base_url = restored(row.message, openid=row.openid,
                                             msg_type=row.msg_type, event=row.event,
                                             content=row.content)  # fmt: skip
                with db.no_autoflush:
                    answer = await channel.compute(db, account, message, base_url)
            now = utcnow()
            state = InboundState.DEFERRED if answer is not None else InboundState.SILENT
            kept = await db.execute(
                update(WechatInbound)
                .where(WechatInbound.id == row_id, WechatInbound.state == InboundState.RECOVERING)
                .values(state=state, answer=answer, answered_at=row.answered_at or now,
                        received_at=now)
            )  # fmt: skip
            if kept.rowcount != 1:  # taken again meanwhile: that recovery answers it
                await db.rollback()
                return 0
            await db.commit()
            openid = row.openid
        if answer is None:
            return 0
        sent = await channel.send_deferred(account, openid, row_id, answer)
        log.info("wechat_answer_recovered", account=account.name, row=row_id, sent=sent)
        return 1 if sent else 0
