"""The WeChat channel's core: the five-second rule and hybrid answering.

WeChat waits five seconds for a callback's answer, then retries (three tries in all). So:

1. A message is stored once, keyed by MsgId (events: FromUserName + CreateTime); a retry finds
   the row and never starts a second answer (nor a second conversation).
2. The answer is computed in a task. The request waits up to the reply budget: when the answer
   is ready it goes back as the passive reply; otherwise the request answers ``success`` and the
   answer, once ready, goes through the customer-service API (custom-send).
3. Who delivers is decided by conditional UPDATEs on the row's state, so exactly one path
   delivers even with retries arriving concurrently or in another process: a request claims
   ``ready → passive``, a request that gives up claims ``answering → deferred``, and the answer
   task moves ``answering → ready`` or, finding ``deferred``, sends it itself. A retry of a
   message already answered passively gets the same stored reply again (WeChat keeps one).

Hybrid answering is the messaging pipeline's (``kefu.messaging``), under the policy in this
channel's manifest: free text → self-service (the assistant, the knowledge base) → a human
through routing ("转人工", or not understood twice in a row), silent while a human owns the
conversation. This module turns callbacks into ``InboundMessage``s and renders the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.wechat import render
from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.manifest import MANIFEST
from kefu.channels.wechat.messages import WechatMessage, kept_fields
from kefu.channels.wechat.models import InboundState, WechatFollower, WechatInbound
from kefu.channels.wechat.outbound import Outbound
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.db.unavailable import is_unavailable
from kefu.logs import get_logger
from kefu.messaging import handoff
from kefu.messaging.contract import InboundMessage
from kefu.messaging.pipeline import MENU, Pipeline
from kefu.vocabulary import Channel, IdentityKind

log = get_logger(__name__)


class ChannelBusy(Exception):
    """The message could not be stored now; the callback answers 503 and WeChat retries."""


class Hall(Protocol):
    """What the channel asks of the business hall (``kefu.hall``, handed in by the app): the
    hall owns the menus and the followers' regions."""

    async def resolve_click(self, db: AsyncSession, account: str, key: str) -> Any:
        """The action of a menu's CLICK ``key`` (an ``intent`` or a knowledge ``entry_id``);
        None for a key no menu has."""

    async def record_location(
        self, db: AsyncSession, account: str, openid: str, lat: float, lng: float
    ) -> None: ...

    async def article(
        self, db: AsyncSession, entry_id: int, channel: str
    ) -> tuple[str, str, int] | None:
        """A knowledge article a menu item opens: (title, body, entry id), or None."""


WECHAT = Channel.WECHAT.value
OPENID = IdentityKind.WECHAT_OPENID.value
POLL = 0.05  # seconds between looks at a row answered in another process
# Answers computed at once. Each holds a database connection while the bank port (which may
# share the pool, as the synthetic bank does) takes another: unbounded, a burst would take
# every connection and wait for a second one forever.
ANSWERS_AT_ONCE = 6
# Callback requests using the database at once, and how long one waits for its turn before
# the callback answers 503 (WeChat tries again): with the answers above this stays within the
# channel's connection pool (10 + 10 overflow), so an overload is refused at the door instead
# of every request queueing on the pool.
REQUESTS_AT_ONCE = 12
ADMISSION_WAIT = 1.0
ANSWER_TRIES = 3  # an answer whose transaction failed (e.g. the database was busy) is re-run


class WechatChannel:
    def __init__(
        self,
        *,
        accounts: Sequence[WechatAccount],
        sessionmaker: async_sessionmaker[AsyncSession],
        pipeline: Pipeline,
        outbound: Outbound,
        hall: Hall | None = None,
        budget: float = 3.5,
    ) -> None:
        """``hall`` resolves menu clicks and places followers by location; without it clicks
        are answered with help and locations go unrecorded."""
        self.accounts = {a.name: a for a in accounts}
        self.sessionmaker = sessionmaker
        self.pipeline = pipeline
        self.outbound = outbound
        self.hall = hall
        self.budget = budget
        self._done: dict[int, asyncio.Event] = {}
        # A request in this process waiting for its own answer: the answer task hands the
        # answer over directly (answering → passive), saving the waiter a round trip.
        self._waiting: dict[int, float] = {}
        self._handed: dict[int, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._answering = asyncio.Semaphore(ANSWERS_AT_ONCE)
        self._requests = asyncio.Semaphore(REQUESTS_AT_ONCE)
        self.stats = {"received": 0, "duplicates": 0, "passive": 0, "deferred": 0}

    async def stop(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)

    # ------------------------------------------------------------------ the five-second rule
    async def receive(
        self, account: WechatAccount, message: WechatMessage, *, base_url: str
    ) -> dict[str, Any] | None:
        """The passive reply for ``message`` (a rendered answer), or None for ``success``."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._requests.acquire(), ADMISSION_WAIT)
        except TimeoutError:
            self.stats["busy"] = self.stats.get("busy", 0) + 1
            raise ChannelBusy("too many callbacks at once") from None
        try:
            row_id = await self._store(account, message, base_url)
        finally:
            self._requests.release()
        if row_id is None:  # a retry: the original's row decides
            self.stats["duplicates"] += 1
            row_id = await self._retry_row(account, message)
        else:
            self.stats["received"] += 1
            done = self._done[row_id] = asyncio.Event()
            self._waiting[row_id] = started + self.budget
            task = asyncio.create_task(self._answer(row_id, account, message, base_url, done))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            return await self._outcome(row_id, started + self.budget)
        finally:
            self._waiting.pop(row_id, None)
            self._handed.pop(row_id, None)

    async def _store(
        self, account: WechatAccount, message: WechatMessage, base_url: str
    ) -> int | None:
        async with self.sessionmaker() as db:
            row = WechatInbound(
                account=account.name, dedupe_key=message.dedupe_key, openid=message.openid,
                msg_type=message.msg_type, event=message.event, content=message.content[:2048],
                message=kept_fields(message, base_url),
                state=InboundState.ANSWERING, deliveries=1, received_at=utcnow(),
            )  # fmt: skip
            db.add(row)
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                return None
            return row.id

    async def _retry_row(self, account: WechatAccount, message: WechatMessage) -> int:
        async with self._requests, self.sessionmaker() as db:
            key = (WechatInbound.account == account.name,
                   WechatInbound.dedupe_key == message.dedupe_key)  # fmt: skip
            await db.execute(
                update(WechatInbound).where(*key).values(deliveries=WechatInbound.deliveries + 1)
            )
            row_id = await db.scalar(select(WechatInbound.id).where(*key))
            await db.commit()
        assert row_id is not None
        return row_id

    async def _outcome(self, row_id: int, deadline: float) -> dict[str, Any] | None:
        while True:
            done = self._done.get(row_id)
            remaining = deadline - time.monotonic()
            if done is not None and remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), remaining)
                if row_id in self._handed:  # the answer task already claimed it for us
                    self.stats["passive"] += 1
                    return self._handed[row_id]
            async with self._requests, self.sessionmaker() as db:
                row = await db.get(WechatInbound, row_id)
                assert row is not None
                state, answer = row.state, row.answer
                if state == InboundState.READY:
                    claimed = await self._move(db, row_id, InboundState.READY, InboundState.PASSIVE)
                    await db.commit()
                    if claimed:
                        self.stats["passive"] += 1
                    return answer  # claimed now, or by a concurrent retry: the same answer
                if state == InboundState.PASSIVE:
                    return answer
                if state != InboundState.ANSWERING:
                    return None  # deferred, sent, silent or failed: nothing passive to say
                if time.monotonic() >= deadline:
                    deferred = await self._move(
                        db, row_id, InboundState.ANSWERING, InboundState.DEFERRED
                    )
                    await db.commit()
                    if deferred:
                        self.stats["deferred"] += 1
                        return None
                    continue  # it became ready meanwhile: claim it above
            if done is None or done.is_set():
                await asyncio.sleep(POLL)  # answered elsewhere (or settling): look again

    @staticmethod
    async def _move(db: AsyncSession, row_id: int, old: str, new: str, **values: Any) -> bool:
        result = await db.execute(
            update(WechatInbound)
            .where(WechatInbound.id == row_id, WechatInbound.state == old)
            .values(state=new, **values)
        )
        return result.rowcount == 1

    async def _settle(
        self, row_id: int, account: WechatAccount, message: WechatMessage, base_url: str
    ) -> tuple[dict[str, Any] | None, bool, bool]:
        """Computes the answer and records it in one transaction: (answer, ready, direct) —
        ``ready`` False when the request gave up waiting (custom-send delivers), ``direct``
        when it was claimed for a waiter in this process. When the recovery took the row over
        (this answer ran past ``wechat_recover_after``) nothing is kept: the transaction, with
        the pipeline's rows, rolls back and (None, True, False) says there is nothing to send,
        since the pipeline does not dedupe and the recovery answers it."""
        async with self._answering, self.sessionmaker() as db:
            # Changes are written at commit, not at the first query after them: on SQLite the
            # write lock is then held for the commit only, not across the bank calls.
            with db.no_autoflush:
                answer = await self.compute(db, account, message, base_url)
            now = utcnow()
            if answer is None:
                silent = await db.execute(
                    update(WechatInbound)
                    .where(WechatInbound.id == row_id,
                           WechatInbound.state.in_([InboundState.ANSWERING, InboundState.DEFERRED]))
                    .values(state=InboundState.SILENT, answered_at=now)
                )  # fmt: skip
                if silent.rowcount != 1:
                    return await self._taken_over(db, row_id)
                await db.commit()
                return None, True, False
            # A waiter here, within its budget: claim the passive reply for it directly.
            direct = time.monotonic() < self._waiting.get(row_id, 0.0)
            new = InboundState.PASSIVE if direct else InboundState.READY
            ready = await self._move(db, row_id, InboundState.ANSWERING, new, answer=answer,
                                     answered_at=now)  # fmt: skip
            if not ready:  # the request gave up waiting: custom-send delivers
                kept = await self._move(db, row_id, InboundState.DEFERRED, InboundState.DEFERRED,
                                        answer=answer, answered_at=now)  # fmt: skip
                if not kept:
                    return await self._taken_over(db, row_id)
            await db.commit()
            return answer, ready, direct

    async def send_deferred(
        self, account: WechatAccount, openid: str, row_id: int, answer: dict[str, Any]
    ) -> bool:
        """Sends a ``deferred`` row's answer through custom-send under the key every sender of
        it uses (``answer:{row}``: once, whoever sends) and records how it went."""
        sent = await self.outbound.send_answer(account, openid, answer, purpose="answer",
                                               idempotency_key=f"answer:{row_id}")  # fmt: skip
        async with self._requests, self.sessionmaker() as db:
            await self._move(db, row_id, InboundState.DEFERRED,
                             InboundState.SENT if sent else InboundState.FAILED)  # fmt: skip
            await db.commit()
        return sent

    @staticmethod
    async def _taken_over(
        db: AsyncSession, row_id: int
    ) -> tuple[dict[str, Any] | None, bool, bool]:
        await db.rollback()
        log.warning("wechat_answer_taken_over", row=row_id)
        return None, True, False

    async def _answer(
        self,
        row_id: int,
        account: WechatAccount,
        message: WechatMessage,
        base_url: str,
        done: asyncio.Event,
    ) -> None:
        try:
            for attempt in range(1, ANSWER_TRIES + 1):
                try:
                    answer, ready, direct = await self._settle(row_id, account, message, base_url)
                    break
                except (DBAPIError, PoolTimeout):
                    # The transaction rolled back, nothing of it is kept: run it again.
                    if attempt == ANSWER_TRIES:
                        raise
                    log.warning("wechat_answer_retry", account=account.name, row=row_id)
                    await asyncio.sleep(0.5 * attempt)
            if answer is None:
                return
            if ready and direct:
                self._handed[row_id] = answer
            if not ready:
                await self.send_deferred(account, message.openid, row_id, answer)
        except Exception as exc:  # noqa: BLE001 - one bad message must not take the channel down
            if is_unavailable(exc):
                # The database went away (a restart, a failover) for longer than the tries
                # above: the row stays as it is and the recovery answers it once the database
                # is back (``wechat_recover_after``). Marked failed, nothing would answer it.
                log.warning("wechat_answer_postponed", account=account.name, row=row_id,
                            error=type(exc).__name__)  # fmt: skip
                return
            log.exception("wechat_answer_failed", account=account.name, row=row_id)
            with contextlib.suppress(Exception):
                async with self.sessionmaker() as db:
                    await db.execute(
                        update(WechatInbound)
                        .where(WechatInbound.id == row_id, WechatInbound.state.in_(
                            [InboundState.ANSWERING, InboundState.DEFERRED]))
                        .values(state=InboundState.FAILED, error="answer failed; see the log")
                    )  # fmt: skip
                    await db.commit()
        finally:
            done.set()
            # Keep the event a little for retries arriving now; then the row alone decides.
            asyncio.get_running_loop().call_later(30, self._done.pop, row_id, None)

    # ------------------------------------------------------------------ hybrid answering
    async def compute(
        self, db: AsyncSession, account: WechatAccount, message: WechatMessage, base_url: str
    ) -> dict[str, Any] | None:
        """The answer to one message or event (None: nothing to say), with its effects
        (follower rows, dialogs, conversations) in ``db``; the caller commits."""
        follower = await self._follower(db, account, message)
        event = message.event
        if event == "subscribe":
            follower.subscribed, follower.scene = True, _scene(message.key)
            follower.subscribed_at, follower.unsubscribed_at = utcnow(), None
            return render.welcome(account.display_name)
        if event == "unsubscribe":
            follower.subscribed, follower.unsubscribed_at = False, utcnow()
            return None
        if event == "scan":
            return render.text("欢迎回来！" + render.HELP)
        if event == "location" or message.msg_type == "location":
            await self._record_location(db, account.name, message)
            if event == "location":
                return None  # reported silently when the follower opens the chat
            return render.news("附近网点", render.LOCATION_NOTED,
                               render.h5_url(base_url, account.name, "branches"))  # fmt: skip
        if event == "click":
            return await self._click(db, account, message, base_url)
        if event is not None or message.msg_type == "event":
            return None  # VIEW opens a page; other events need no answer
        # A tap in a menu message (msgmenu) answers with the item's id: by the message
        # contract (kefu.messaging.contract.Choice) the id is the answer, as typed elsewhere.
        text = message.menu_id or message.content.strip()
        if message.msg_type != "text" and not (message.msg_type == "voice" and text):
            owned = await handoff.human_owned(db, WECHAT, message.openid)
            if owned is not None:
                await handoff.add_customer_message(db, owned[0], f"[{message.msg_type}] "
                                                   + (message.url or message.media_id or ""))  # fmt: skip
                return None
            return render.text(render.NOT_TEXT)
        if not text:
            return render.text(render.HELP)
        return await self._free_text(db, account, message.openid, text, base_url)

    async def _record_location(
        self, db: AsyncSession, account: str, message: WechatMessage
    ) -> None:
        if self.hall is None or message.latitude is None or message.longitude is None:
            return
        await self.hall.record_location(db, account, message.openid, message.latitude,
                                        message.longitude)  # fmt: skip

    async def _follower(
        self, db: AsyncSession, account: WechatAccount, message: WechatMessage
    ) -> WechatFollower:
        query = select(WechatFollower).where(
            WechatFollower.account == account.name, WechatFollower.openid == message.openid
        )
        now = utcnow()
        # Opens WeChat's 48-hour service window (not an unsubscribe's).
        inbound = message.event != "unsubscribe"
        follower = await db.scalar(query)
        if follower is None:  # the first message: a concurrent first message may insert too
            # The row comes back from the INSERT itself (RETURNING; nothing on a conflict),
            # with the window already opened: no second read, no UPDATE after.
            follower = await db.scalar(
                dialect_insert(db, WechatFollower)
                .values(account=account.name, openid=message.openid, subscribed=True,
                        subscribed_at=now, last_inbound_at=now if inbound else None)
                .on_conflict_do_nothing()
                .returning(WechatFollower),
                execution_options={"populate_existing": True},
            )  # fmt: skip
            if follower is None:  # the concurrent one won: its row
                follower = await db.scalar(query)
        assert follower is not None
        last = follower.last_inbound_at
        # Written at most once a minute (fewer writes).
        if inbound and (last is None or now - last > timedelta(minutes=1)):
            follower.last_inbound_at = now
        return follower

    async def _click(
        self,
        db: AsyncSession,
        account: WechatAccount,
        message: WechatMessage,
        base_url: str,
    ) -> dict[str, Any] | None:
        action = None
        if self.hall is not None:
            action = await self.hall.resolve_click(db, account.name, message.key or "")
        # While an agent holds the conversation the tap joins it, named by its label, and the
        # policy's short acknowledgement answers it (whatever the item would do otherwise).
        label = getattr(action, "label", "") or message.key or ""
        tap = InboundMessage(channel=WECHAT, account=account.name, sender=message.openid,
                             text=label, identity_kind=OPENID, metadata={MENU: label})  # fmt: skip
        joined = await self.pipeline.join_human(db, tap, MANIFEST.policy)
        if joined is not None:
            return render.text(joined.text) if joined.text is not None else None
        if action is None:  # a key no menu has (e.g. one WeChat still shows after a change)
            return render.text(render.HELP)
        if getattr(action, "entry_id", None) is not None:
            found = await self.hall.article(db, action.entry_id, WECHAT) if self.hall else None
            if found is not None:
                title, body, entry_id = found
                return render.article_answer(title, body, entry_id, account=account.name,
                                             base_url=base_url)  # fmt: skip
            return render.text(render.HELP)
        command = render.INTENT_COMMANDS.get(getattr(action, "intent", None) or "")
        if command is None:
            return render.text(render.HELP)
        return await self._free_text(db, account, message.openid, command, base_url)

    async def _free_text(
        self,
        db: AsyncSession,
        account: WechatAccount,
        openid: str,
        text: str,
        base_url: str,
    ) -> dict[str, Any] | None:
        inbound = InboundMessage(
            channel=WECHAT, account=account.name, sender=openid, text=text, identity_kind=OPENID
        )
        outcome = await self.pipeline.handle(db, inbound, MANIFEST.policy)
        for note in outcome.notifications:
            await self.outbound.notify_other_channel(db, note)
        if outcome.text is not None:
            return render.text(outcome.text)
        if outcome.reply is None:
            return None  # an agent owns it: the agent answers, the bot stays silent
        return render.answer_for(outcome.reply, account=account.name, base_url=base_url)


def _scene(key: str | None) -> str | None:
    if not key:
        return None
    return key.removeprefix("qrscene_")[:64]
