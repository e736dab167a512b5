"""Replies kefu sends on Weibo: agents' replies (from the conversations, through the message
contract's relay) and the bot's answers to 私信.

A reply goes as a public comment (``comment``: a reply to the comment that started the
conversation, or a comment on the post that @-mentioned the account; at most 140 characters)
or as a 私信 (``dm``; only within 48 hours of the user's last 私信: 21609 otherwise). The agent
chooses per reply on the desk (``OutboundMessage.metadata["reply_mode"]``); without a choice
the account's ``reply_mode_default`` decides (``origin``: as the conversation began).

Exactly once: the reply is recorded (``weibo_outbound``) before the call, and the conversation
message is marked handed in the same transaction. A worker claims a row with a conditional
UPDATE and a lease. A call whose answer was lost (a timeout, a garbled answer, a 5xx page, a
worker that died holding the lease) leaves the row ``unknown``; before a comment is sent again
kefu reads the post's comments (``/2/comments/show.json``) for one by the account with that
text, and 20019 ("repeat content") is taken as sent only when that read finds it. 私信 have no
such read: a 私信 whose answer was lost is not sent again (at most once) and the desk says it
may have arrived. A rate limit or an expired token leaves the reply accepted; it goes when the
limit resets or an admin authorises again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.weibo import api as wire
from kefu.channels.weibo.api import WeiboApi, WeiboApiError
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.inbound import PUBLIC_KINDS, mark_deleted
from kefu.channels.weibo.models import OutState, WeiboOutbound, WeiboReceived
from kefu.db.base import utcnow
from kefu.db.retry import retry_transaction
from kefu.logs import get_logger
from kefu.messaging import relay
from kefu.vocabulary import Channel, DeliveryState

log = get_logger(__name__)

WEIBO = Channel.WEIBO.value
BATCH = 50
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12  # transient failures before a reply is given up (about an hour of back-off)
TOKEN_WAIT = timedelta(seconds=5)
MODES = ("comment", "dm")

# Why a reply failed, as the desk shows it (Chinese first; the code stays in the row).
REASONS = {
    wire.WINDOW_CLOSED: "私信只能在用户最后一条私信后48小时内回复，请改用公开回复",
    wire.STATUS_DELETED: "原微博已删除，无法评论",
    wire.COMMENT_DELETED: "被回复的评论已删除",
    wire.TEXT_TOO_LONG: "内容超过微博字数上限",
    wire.REPEAT_CONTENT: "24小时内已在该微博下发过相同内容的评论",
    20003: "用户不存在",
}
MAYBE_SENT_DM = "私信发送超时，平台可能已收到；为免重复未再发送，请核实"
NO_TARGET = "会话中没有可公开回复的微博或评论，请改用私信"
TOO_LONG_PUBLIC = "公开回复不能超过140字"


@dataclass(frozen=True)
class Plan:
    account: str
    mode: str
    receiver_uid: str
    status_id: str | None = None
    comment_id: str | None = None
    error: str | None = None


class Outbound:
    def __init__(
        self,
        *,
        accounts: Mapping[str, WeiboAccount],
        apis: Mapping[str, WeiboApi],
        sessionmaker: async_sessionmaker[AsyncSession],
        idle: float = 0.5,
    ) -> None:
        self.accounts = dict(accounts)
        self.apis = dict(apis)
        self.sessionmaker = sessionmaker
        self.idle = idle
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.stats = {"sent": 0, "failed": 0, "verified": 0}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="weibo-outbound")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kick(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                busy = await self.relay_agent_replies() + await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop outlives one bad batch
                log.exception("weibo_outbound_failed")
                busy = 0
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle)
                self._wake.clear()

    # ------------------------------------------------------------------ agents' replies
    async def relay_agent_replies(self) -> int:
        """Records each waiting agent reply as a Weibo outbound row (the intent) and marks the
        conversation message handed, in one transaction. Two workers inserting the same rows
        deadlock on InnoDB's unique index where PostgreSQL makes the second wait and fail with
        a duplicate: the loser's transaction runs again and finds nothing left to record."""
        return await retry_transaction(self._relay_agent_replies)

    async def _relay_agent_replies(self) -> int:
        async with self.sessionmaker() as db:
            pending = await relay.pending_replies(db, WEIBO, BATCH)
            try:
                for reply in pending:
                    await self._record(db, reply)
                await db.commit()
            except IntegrityError:  # another worker recorded them first: theirs to send
                await db.rollback()
                return 0
        return len(pending)

    async def _record(self, db: AsyncSession, reply: relay.PendingReply) -> None:
        plan = await self.plan(db, reply.conversation_id, reply.outbound.to,
                               reply.outbound.metadata.get("reply_mode"), reply.outbound.text)  # fmt: skip
        row = WeiboOutbound(
            account=plan.account, idempotency_key=f"message:{reply.message_id}",
            message_id=reply.message_id, mode=plan.mode, receiver_uid=plan.receiver_uid,
            status_id=plan.status_id, comment_id=plan.comment_id, text=reply.outbound.text,
            state=OutState.FAILED if plan.error else OutState.ACCEPTED, error=plan.error,
        )  # fmt: skip
        db.add(row)
        await db.flush()
        await relay.mark_handed(
            db, reply.message_id, external_id=f"weibo:{row.id}",
            state=DeliveryState.FAILED.value if plan.error else DeliveryState.ACCEPTED.value,
            error=plan.error,
        )  # fmt: skip

    async def plan(
        self, db: AsyncSession, conversation_id: int, contact: str, chosen: Any, text: str
    ) -> Plan:
        """Where a reply in ``conversation_id`` goes: the mode chosen (or the default rule's)
        and, for a public reply, the comment or post it answers."""
        items = list((await db.scalars(
            select(WeiboReceived).where(WeiboReceived.conversation_id == conversation_id)
            .order_by(WeiboReceived.id)
        )).all())  # fmt: skip
        if not items and contact:  # a conversation opened by another route: the author's items
            items = list((await db.scalars(
                select(WeiboReceived).where(WeiboReceived.sender_uid == contact,
                                            WeiboReceived.kind.in_(("mention", "comment", "dm")))
                .order_by(WeiboReceived.id)
            )).all())  # fmt: skip
        account_name = items[-1].account if items else next(iter(self.accounts), "")
        account = self.accounts.get(account_name)
        if account is None:
            return Plan(account_name or "-", "dm", contact, error="没有配置该微博账号")
        mode = str(chosen) if chosen in MODES else self.default_mode(account, items)
        if mode == "dm":
            return Plan(account.name, "dm", contact)
        public = [i for i in items if i.kind in PUBLIC_KINDS and not i.deleted]
        if not public:
            return Plan(account.name, "comment", contact, error=NO_TARGET)
        if len(text) > wire.COMMENT_MAX:
            return Plan(account.name, "comment", contact, error=TOO_LONG_PUBLIC)
        target = public[-1]  # the author's latest public word in this conversation
        if target.kind == "comment":
            return Plan(account.name, "comment", contact, status_id=target.status_id,
                        comment_id=target.external_id)  # fmt: skip
        return Plan(account.name, "comment", contact, status_id=target.external_id)

    @staticmethod
    def default_mode(account: WeiboAccount, items: list[WeiboReceived]) -> str:
        if account.reply_mode_default != "origin":
            return account.reply_mode_default
        first = next((i for i in items if i.kind in (*PUBLIC_KINDS, "dm")), None)
        return "comment" if first is not None and first.kind in PUBLIC_KINDS else "dm"

    # ------------------------------------------------------------------ sending
    async def send_due(self) -> int:
        """Sends (or verifies) every reply that is due; returns how many it looked at."""
        now = utcnow()
        async with self.sessionmaker() as db:
            ids = list((await db.scalars(
                select(WeiboOutbound.id).where(
                    or_(WeiboOutbound.state.in_((OutState.ACCEPTED, OutState.UNKNOWN)),
                        (WeiboOutbound.state == OutState.SENDING) & (WeiboOutbound.lease_until < now)),
                    or_(WeiboOutbound.next_try_at.is_(None), WeiboOutbound.next_try_at <= now),
                ).order_by(WeiboOutbound.id).limit(BATCH)
            )).all())  # fmt: skip
        done = 0
        for row_id in ids:
            claimed = await self._claim(row_id)
            if claimed is None:
                continue
            row, uncertain = claimed
            try:
                await self._send(row, uncertain)
            except Exception:  # noqa: BLE001 - one reply must not stop the others
                log.exception("weibo_send_crashed", row=row.id)
                await self._finish(row, OutState.UNKNOWN, next_try=timedelta(seconds=30))
            done += 1
        return done

    async def _claim(self, row_id: int) -> tuple[WeiboOutbound, bool] | None:
        """The row, now held by this worker, and whether an earlier try may have been sent."""
        now = utcnow()
        async with self.sessionmaker() as db:
            row = await db.get(WeiboOutbound, row_id)
            if row is None:
                return None
            # A SENDING row whose lease ran out: its worker died mid-call — uncertain.
            uncertain = row.state in (OutState.UNKNOWN, OutState.SENDING)
            result = await db.execute(
                update(WeiboOutbound)
                .where(WeiboOutbound.id == row_id, WeiboOutbound.state == row.state,
                       WeiboOutbound.attempts == row.attempts)
                .values(state=OutState.SENDING, lease_until=now + LEASE,
                        attempts=WeiboOutbound.attempts + 1, updated_at=now)
            )  # fmt: skip
            await db.commit()
            if result.rowcount != 1:
                return None
            await db.refresh(row)
            return row, uncertain

    async def _send(self, row: WeiboOutbound, uncertain: bool) -> None:
        api = self.apis.get(row.account)
        if api is None:
            await self._finish(row, OutState.FAILED, error="没有配置该微博账号")
            return
        if uncertain:
            if row.mode == "dm":
                await self._finish(row, OutState.FAILED, error=MAYBE_SENT_DM)
                return
            if await self._verify(api, row):
                return
        try:
            if row.mode == "dm":
                await api.dm(row.receiver_uid, row.text)
                await self._finish(row, OutState.SENT)
                return
            if row.comment_id:
                answer = await api.reply(row.comment_id, row.status_id or "", row.text)
            else:
                answer = await api.comment(row.status_id or "", row.text)
        except WeiboApiError as exc:
            await self._refused(api, row, exc)
            return
        await self._finish(
            row, OutState.SENT, weibo_id=str(answer.get("idstr") or answer.get("id") or "")
        )

    async def _verify(self, api: WeiboApi, row: WeiboOutbound) -> bool:
        """True (and the row sent) when the post already carries the account's comment with
        this text — an earlier try reached Weibo though its answer did not reach kefu."""
        try:
            comments = await api.comments_on(row.status_id or "")
        except WeiboApiError as exc:
            await self._refused(api, row, exc, verifying=True)
            return True  # decided (rescheduled or failed) by _refused
        for c in comments:
            user = c.get("user") if isinstance(c.get("user"), dict) else {}
            if (
                str(user.get("idstr") or user.get("id")) == api.account.uid
                and c.get("text") == row.text
            ):
                self.stats["verified"] += 1
                log.info("weibo_reply_verified", row=row.id)
                await self._finish(row, OutState.SENT, weibo_id=str(c.get("idstr") or c.get("id")))
                return True
        return False

    async def _refused(
        self, api: WeiboApi, row: WeiboOutbound, exc: WeiboApiError, *, verifying: bool = False
    ) -> None:
        if exc.rate_limited:
            wait = 600.0
            with contextlib.suppress(WeiboApiError):
                wait = (await api.rate_limit()).reset_in_seconds + 1
            state = OutState.UNKNOWN if verifying else OutState.ACCEPTED
            await self._finish(row, state, next_try=timedelta(seconds=wait), attempt_back=True,
                               error=f"频率受限，{int(wait)}秒后重试")  # fmt: skip
            return
        if exc.token_problem:
            # Accepted until an admin authorises again; the admin page says so.
            state = OutState.UNKNOWN if verifying else OutState.ACCEPTED
            await self._finish(row, state, next_try=TOKEN_WAIT, attempt_back=True,
                               error="等待管理员重新授权微博账号")  # fmt: skip
            return
        if exc.code == wire.REPEAT_CONTENT and not verifying and await self._verify(api, row):
            return
        if exc.code == wire.STATUS_DELETED and row.status_id:
            async with self.sessionmaker() as db:
                await mark_deleted(db, row.account, "mention", row.status_id)
                await db.commit()
        if exc.code in REASONS:
            await self._finish(row, OutState.FAILED, code=exc.code, error=REASONS[exc.code])
            return
        if exc.maybe_done or exc.transient or verifying:
            if row.attempts >= MAX_ATTEMPTS:
                await self._finish(row, OutState.FAILED, code=exc.code,
                                   error=f"微博多次无响应（{exc.code}），已放弃")  # fmt: skip
                return
            if row.mode == "dm" and exc.code in (wire.TIMEOUT, wire.MALFORMED):
                await self._finish(row, OutState.FAILED, code=exc.code, error=MAYBE_SENT_DM)
                return
            state = OutState.UNKNOWN if (exc.maybe_done or verifying) else OutState.ACCEPTED
            wait = min(300.0, 2.0**row.attempts) * (0.5 + random.random())
            await self._finish(row, state, code=exc.code, next_try=timedelta(seconds=wait),
                               error=f"微博暂时不可用（{exc.code}），稍后重试")  # fmt: skip
            return
        await self._finish(row, OutState.FAILED, code=exc.code,
                           error=f"微博拒绝（{exc.code}）：{exc.message}"[:200])  # fmt: skip

    async def _finish(
        self,
        row: WeiboOutbound,
        state: str,
        *,
        code: int | None = None,
        error: str | None = None,
        weibo_id: str | None = None,
        next_try: timedelta | None = None,
        attempt_back: bool = False,
    ) -> None:
        now = utcnow()
        async with self.sessionmaker() as db:
            values: dict[str, Any] = dict(state=state, lease_until=None, error_code=code,
                                          error=error, updated_at=now,
                                          next_try_at=now + next_try if next_try else None)  # fmt: skip
            if attempt_back:  # a wait imposed by Weibo, not a failure of the reply
                values["attempts"] = WeiboOutbound.attempts - 1
            if state == OutState.SENT:
                values.update(sent_at=now, weibo_id=weibo_id or None, error=None, error_code=None)
            await db.execute(
                update(WeiboOutbound)
                .where(WeiboOutbound.id == row.id, WeiboOutbound.state == OutState.SENDING)
                .values(**values)
            )  # fmt: skip
            if row.message_id is not None and state in (OutState.SENT, OutState.FAILED):
                await relay.mark_handed(
                    db, row.message_id, external_id=f"weibo:{row.id}",
                    state=DeliveryState.SENT.value if state == OutState.SENT
                    else DeliveryState.FAILED.value,
                    error=None if state == OutState.SENT else error,
                )  # fmt: skip
            await db.commit()
        if state == OutState.SENT:
            self.stats["sent"] += 1
        elif state == OutState.FAILED:
            self.stats["failed"] += 1
            log.warning("weibo_reply_failed", row=row.id, mode=row.mode, code=code, error=error)
