"""The web chat channel: sessions, the transcript, answers through the message pipeline, and
agents' replies relayed into the transcript.

Delivery rules:
- A visitor's message is stored (with the widget's ``client_id``: a retry finds the row, never
  a second message) and committed before the API answers 202; the answer is computed after.
  A message stored but not answered (the process died, the database was busy) is answered by
  the sweep, which runs every few seconds and at start.
- Every message of a session, both directions, gets the next ``seq`` of the session in the
  transaction that stores it; clients read ``after=N`` (SSE replays from ``Last-Event-ID``), so
  a reconnecting widget gets everything it missed, in order.
- Watchers (SSE streams) are woken in this process when their session changes; they then read
  the database, so a wake-up lost or doubled costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.webchat import render
from kefu.channels.webchat.config import WebchatSite
from kefu.channels.webchat.models import WebchatMessage, WebchatSession
from kefu.channels.webchat.offers import Lead, OfferSource
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.messaging import handoff, relay
from kefu.messaging.contract import InboundMessage
from kefu.messaging.pipeline import Pipeline
from kefu.messaging.policy import HybridPolicy
from kefu.vocabulary import Channel, DeliveryState, Direction, SenderType

log = get_logger(__name__)

WEBCHAT = Channel.WEBCHAT.value
# How the pipeline knows a web visitor: a customer signed in at the bank's site ("c:<no>",
# bound to that customer) or an anonymous visitor ("v:<session>"). Stored as a plain string,
# like every identity kind (kefu.vocabulary), so no schema change.
IDENTITY_KIND = "webchat"
RECEIVED, ANSWERED, FAILED, SENT = "received", "answered", "failed", "sent"
ANSWERS_AT_ONCE = 8  # answers computed at once (each holds a database connection)
ANSWER_TRIES = 3
SWEEP_EVERY = 5.0  # seconds between looks for unanswered messages and agents' replies
UNANSWERED_AFTER = timedelta(seconds=10)  # a message older than this, unanswered, is swept
RELAY_BATCH = 200
PAGE = 200  # messages per read
# Said when a hand-off for a banner click finds the queue full (routing's overflow).
OVERFLOWED = "已记录您的意向。当前咨询人数较多，客服将尽快与您联系。"


class Flooding(Exception):
    """The visitor sent more than the site allows per minute (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many messages; try again in {retry_after} s")
        self.retry_after = retry_after


class RateLimiter:
    """A sliding one-minute window per key, in this process (asyncio runs one request at a
    time between awaits, so check-and-count is atomic here; behind several processes each
    counts its own share, see docs/channels/webchat.md)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def take(self, key: str, per_minute: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= per_minute:
            raise Flooding(max(1, int(hits[0] + 60 - now) + 1))
        hits.append(now)
        if len(self._hits) > 100_000:  # forget idle keys rather than grow without bound
            for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - 60]:
                del self._hits[stale]


class Watchers:
    """Wakes the SSE streams of one session when it changes."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def watch(self, session: str) -> asyncio.Event:
        event = asyncio.Event()
        self._events[session].add(event)
        return event

    def unwatch(self, session: str, event: asyncio.Event) -> None:
        events = self._events.get(session)
        if events is not None:
            events.discard(event)
            if not events:
                del self._events[session]

    def wake(self, session: str) -> None:
        for event in self._events.get(session, ()):
            event.set()

    def sessions(self) -> list[str]:
        return list(self._events)

    def __len__(self) -> int:
        return sum(len(v) for v in self._events.values())


class WebchatChannel:
    def __init__(
        self,
        *,
        sites: Sequence[WebchatSite],
        sessionmaker: async_sessionmaker[AsyncSession],
        pipeline: Pipeline,
        policy: HybridPolicy,
        offers: OfferSource | None = None,
    ) -> None:
        self.sites = {s.name: s for s in sites}
        # The offer banner's decision, offered by the app (kefu.runtime); None: no banners.
        self.offers = offers
        self.sessionmaker = sessionmaker
        self.pipeline = pipeline
        self.policy = policy
        self.watchers = Watchers()
        # watched sessions' last (routing status, last seq)
        self._seen: dict[str, tuple[handoff.HandoffStatus | None, int]] = {}
        self.limiter = RateLimiter()
        self._answering = asyncio.Semaphore(ANSWERS_AT_ONCE)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._relay: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    # Two loops. The watch (every process serving the API: it wakes this process's SSE streams
    # when their session changed, whoever changed it) and the relay (agents' replies into the
    # transcripts, the sweep of unanswered messages: once in the deployment, under the
    # workers' lease when scaled out; kefu.channels.manifest.Relay).
    async def start(self) -> None:
        self._stopping = False
        self._watch = asyncio.create_task(self._watching(), name="webchat-watch")

    async def start_relay(self) -> None:
        if self._relay is None or self._relay.done():
            self._relay = asyncio.create_task(self._relaying(), name="webchat-relay")

    async def stop_relay(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
            self._relay = None

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await self.stop_relay()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)

    def wake_relay(self) -> None:
        self._wake.set()

    async def _relaying(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            try:
                await self.relay_agent_replies()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_EVERY
                    await self.sweep()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                log.exception("webchat_relay_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.5)

    async def _watching(self) -> None:
        while not self._stopping:
            try:
                await self.wake_changed_states()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                log.exception("webchat_watch_failed")
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ sessions
    async def open_session(
        self, site: WebchatSite, *, customer_no: str | None, locale: str, origin: str | None
    ) -> tuple[WebchatSession, render.Rendered]:
        session_id = secrets.token_hex(16)
        now = utcnow()
        session = WebchatSession(
            id=session_id, site=site.name,
            address=f"c:{customer_no}" if customer_no else f"v:{session_id}",
            customer_no=customer_no, locale=locale, origin=(origin or "")[:200] or None,
            last_seq=0, read_upto=0, csat_requested=False, created_at=now, last_seen_at=now,
            expires_at=now + timedelta(hours=site.session_hours),
        )  # fmt: skip
        hello = render.greeting(site.greeting)
        async with self.sessionmaker() as db:
            db.add(session)
            await db.flush()
            await self._append(db, session.id, Direction.OUTBOUND.value, SenderType.BOT.value,
                               hello, state=SENT)  # fmt: skip
            await db.commit()
        return session, hello

    async def session(self, db: AsyncSession, session_id: str, site: str) -> WebchatSession | None:
        session = await db.get(WebchatSession, session_id)
        if session is None or session.site != site or session.expires_at < utcnow():
            return None
        return session

    # ------------------------------------------------------------------ inbound
    async def receive(
        self, site: WebchatSite, session: WebchatSession, text: str, client_id: str | None
    ) -> tuple[int, bool]:
        """Stores one visitor message and starts its answer: (seq, duplicate)."""
        async with self.sessionmaker() as db:
            if client_id:
                seq = await self._seq_of(db, session.id, client_id)
                if seq is not None:
                    return seq, True
            self.limiter.take(session.id, site.messages_per_minute)
            try:
                message = await self._append(
                    db, session.id, Direction.INBOUND.value, SenderType.CUSTOMER.value,
                    render.Rendered(text), state=RECEIVED, client_id=client_id,
                )  # fmt: skip
                await db.execute(
                    update(WebchatSession)
                    .where(WebchatSession.id == session.id)
                    .values(last_seen_at=utcnow())
                )
                await db.commit()
            except IntegrityError:  # the same client_id, sent twice at once: the first won
                await db.rollback()
                seq = await self._seq_of(db, session.id, client_id or "")
                if seq is None:
                    raise
                return seq, True
        self.watchers.wake(session.id)
        task = asyncio.create_task(self._answer(message.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return message.seq, False

    @staticmethod
    async def _seq_of(db: AsyncSession, session_id: str, client_id: str) -> int | None:
        return await db.scalar(
            select(WebchatMessage.seq).where(
                WebchatMessage.session_id == session_id, WebchatMessage.client_id == client_id
            )
        )

    async def _append(
        self,
        db: AsyncSession,
        session_id: str,
        direction: str,
        sender: str,
        content: render.Rendered,
        *,
        state: str,
        client_id: str | None = None,
        source_message_id: int | None = None,
    ) -> WebchatMessage:
        """Adds a message with the session's next seq; the session row stays locked until the
        transaction ends, so seqs become visible in order."""
        await db.execute(
            update(WebchatSession)
            .where(WebchatSession.id == session_id)
            .values(last_seq=WebchatSession.last_seq + 1)
        )
        seq = await db.scalar(
            select(WebchatSession.last_seq).where(WebchatSession.id == session_id)
        )
        message = WebchatMessage(
            session_id=session_id, seq=int(seq or 0), direction=direction, sender=sender,
            text=content.text, card=content.card, quick_replies=list(content.quick_replies),
            client_id=client_id, state=state, attempts=0, source_message_id=source_message_id,
            created_at=utcnow(),
        )  # fmt: skip
        db.add(message)
        await db.flush()
        return message

    async def _answer(self, message_id: int) -> None:
        for attempt in range(1, ANSWER_TRIES + 1):
            try:
                session_id = await self._settle(message_id)
                if session_id is not None:
                    self.watchers.wake(session_id)
                return
            except DBAPIError:  # rolled back, nothing kept: run it again
                log.warning("webchat_answer_retry", message=message_id, attempt=attempt)
                await asyncio.sleep(0.3 * attempt)
            except Exception:  # noqa: BLE001 - one bad message must not take the channel down
                log.exception("webchat_answer_failed", message=message_id)
                break
        await self._note_failure(message_id)

    async def _settle(self, message_id: int) -> str | None:
        """Answers one stored message and records the answer in one transaction; None when
        another worker answered it first."""
        async with self._answering, self.sessionmaker() as db:
            inbound = await db.get(WebchatMessage, message_id)
            if inbound is None or inbound.state != RECEIVED:
                return None
            session = await db.get(WebchatSession, inbound.session_id)
            assert session is not None
            message = InboundMessage(
                channel=WEBCHAT, account=session.site, sender=session.address, text=inbound.text,
                identity_kind=IDENTITY_KIND, customer_no=session.customer_no,
                external_id=f"webchat:{inbound.id}", received_at=inbound.created_at,
            )  # fmt: skip
            # Writes wait for the commit: on SQLite the write lock is not held across the
            # bank's calls.
            with db.no_autoflush:
                outcome = await self.pipeline.handle(db, message, self.policy)
            claimed = await db.execute(
                update(WebchatMessage)
                .where(WebchatMessage.id == message_id, WebchatMessage.state == RECEIVED)
                .values(state=ANSWERED)
            )
            if claimed.rowcount != 1:
                await db.rollback()
                return None
            values: dict[str, Any] = {"read_upto": inbound.seq}
            if outcome.conversation_id is not None:
                values["conversation_id"] = outcome.conversation_id
                values["csat_requested"] = False
            await db.execute(
                update(WebchatSession).where(WebchatSession.id == session.id).values(**values)
            )
            answer = render.outcome(outcome)
            if answer is not None:
                await self._append(db, session.id, Direction.OUTBOUND.value,
                                   SenderType.BOT.value, answer, state=SENT)  # fmt: skip
            for note in outcome.notifications:  # e.g. a code for another channel: not here
                log.warning("webchat_notification_dropped", channel=note.channel)
            await db.commit()
            return session.id

    async def _note_failure(self, message_id: int) -> None:
        with contextlib.suppress(Exception):
            async with self.sessionmaker() as db:
                message = await db.get(WebchatMessage, message_id)
                if message is None or message.state != RECEIVED:
                    return
                message.attempts += 1
                if message.attempts >= ANSWER_TRIES:
                    message.state = FAILED
                await db.commit()

    async def sweep(self) -> int:
        """Answers messages stored but left unanswered (a crash, a busy database)."""
        async with self.sessionmaker() as db:
            ids = (
                await db.scalars(
                    select(WebchatMessage.id)
                    .where(
                        WebchatMessage.direction == Direction.INBOUND.value,
                        WebchatMessage.state == RECEIVED,
                        WebchatMessage.created_at <= utcnow() - UNANSWERED_AFTER,
                    )
                    .order_by(WebchatMessage.id)
                    .limit(RELAY_BATCH)
                )
            ).all()
        for message_id in ids:
            await self._answer(message_id)
        return len(ids)

    # ------------------------------------------------------------------ agents' side
    async def relay_agent_replies(self) -> int:
        """Agents' replies into their sessions' transcripts; closed conversations ask for a
        rating."""
        woken: set[str] = set()
        async with self.sessionmaker() as db:
            pending = await relay.pending_replies(db, WEBCHAT, RELAY_BATCH)
            for reply in pending:
                session = await self._session_for(db, reply.conversation_id, reply.outbound.to)
                if session is None:
                    await relay.mark_handed(
                        db, reply.message_id, external_id="webchat:none",
                        state=DeliveryState.FAILED.value, error="no web chat session for it",
                    )  # fmt: skip
                    continue
                stored = await self._append(
                    db, session.id, Direction.OUTBOUND.value, SenderType.AGENT.value,
                    render.Rendered(reply.outbound.text), state=SENT,
                    source_message_id=reply.message_id,
                )  # fmt: skip
                await db.execute(
                    update(WebchatSession)
                    .where(WebchatSession.id == session.id)
                    .values(read_upto=WebchatSession.last_seq)  # the agent read what came before
                )
                await relay.mark_handed(db, reply.message_id, external_id=f"webchat:{stored.id}",
                                        state=DeliveryState.SENT.value)  # fmt: skip
                woken.add(session.id)
            woken |= await self._ask_ratings(db)
            await db.commit()
        for session_id in woken:
            self.watchers.wake(session_id)
        return len(pending)

    async def hand_over(self, db: AsyncSession, session: WebchatSession, lead: Lead) -> int:
        """The session's hand-off to an agent for something the visitor did rather than typed
        (a click of interest on the offer banner), in the caller's transaction: what "转人工"
        does — a conversation queued by routing through the pipeline's own route to agents,
        or, when a human already holds the visitor's conversation, the lead joins it — and
        the visitor is told, with the queue place. Returns the conversation's id."""
        owned = await handoff.human_owned(db, WEBCHAT, session.address)
        if owned is not None:
            conversation_id = owned[0].id
            await handoff.add_customer_message(db, owned[0], lead.text)
        else:
            message = InboundMessage(
                channel=WEBCHAT, account=session.site, sender=session.address, text=lead.text,
                identity_kind=IDENTITY_KIND, customer_no=session.customer_no,
            )  # fmt: skip
            conversation_id = await self.pipeline.hand_off(
                db, message, subject=lead.subject, attributes=dict(lead.attributes)
            )
        status = await handoff.status(db, conversation_id)
        if status.handed_off:
            text = lead.reply + (self.policy.queue_note(status.queue_position) or "请稍候。")
        else:  # the queue is full (overflow): the interest is kept, an agent follows it up
            text = OVERFLOWED
        await db.execute(
            update(WebchatSession)
            .where(WebchatSession.id == session.id)
            .values(conversation_id=conversation_id, csat_requested=False)
        )
        await self._append(db, session.id, Direction.OUTBOUND.value, SenderType.BOT.value,
                           render.Rendered(text), state=SENT)  # fmt: skip
        return conversation_id

    async def notify(self, db: AsyncSession, session_id: str, text: str) -> bool:
        """A notice into a live session's transcript, in the caller's transaction (a branch
        ticket's "3 ahead"); False when the session is gone or expired. ``watchers.wake`` it
        after the commit to show it at once (the widget's next poll finds it anyway)."""
        session = await db.get(WebchatSession, session_id)
        if session is None or session.expires_at <= utcnow():
            return False
        await self._append(db, session_id, Direction.OUTBOUND.value, SenderType.BOT.value,
                           render.Rendered(text), state=SENT)  # fmt: skip
        return True

    @staticmethod
    async def _session_for(
        db: AsyncSession, conversation_id: int, address: str
    ) -> WebchatSession | None:
        """The session that handed the conversation over, else the address's newest."""
        session = await db.scalar(
            select(WebchatSession)
            .where(WebchatSession.conversation_id == conversation_id)
            .order_by(WebchatSession.created_at.desc())
            .limit(1)
        )
        if session is None and address:
            session = await db.scalar(
                select(WebchatSession)
                .where(WebchatSession.address == address)
                .order_by(WebchatSession.created_at.desc())
                .limit(1)
            )
        return session

    @staticmethod
    async def _ask_ratings(db: AsyncSession) -> set[str]:
        sessions = (
            await db.scalars(
                select(WebchatSession).where(
                    WebchatSession.conversation_id.is_not(None),
                    WebchatSession.csat_requested.is_(False),
                    WebchatSession.csat_score.is_(None),
                    WebchatSession.expires_at > utcnow(),
                )
            )
        ).all()
        asked = set()
        for session in sessions:
            if (await handoff.status(db, session.conversation_id)).closed:
                session.csat_requested = True
                asked.add(session.id)
        return asked

    async def wake_changed_states(self) -> int:
        """Wakes the streams of watched sessions whose conversation changed in routing (an
        agent claimed it, the queue moved) or that got a message this process did not write
        (the relay in the workers process, a visitor's message to another web process):
        routing does not know web chat, so the channel looks, for the sessions someone is
        watching, twice a second."""
        watched = self.watchers.sessions()
        if not watched:
            return 0
        woken = 0
        async with self.sessionmaker() as db:
            rows = (
                await db.execute(
                    select(
                        WebchatSession.id, WebchatSession.conversation_id, WebchatSession.last_seq
                    ).where(WebchatSession.id.in_(watched[:1000]))
                )
            ).all()
            for session_id, conversation_id, last_seq in rows:
                status = (
                    await handoff.status(db, conversation_id) if conversation_id else None,
                    last_seq,
                )
                seen = self._seen.get(session_id)
                if seen != status:
                    self._seen[session_id] = status
                    self.watchers.wake(session_id)
                    woken += 1
        for gone in set(self._seen) - set(watched):
            del self._seen[gone]
        return woken

    # ------------------------------------------------------------------ reading
    async def messages_after(
        self, db: AsyncSession, session_id: str, after: int, limit: int = PAGE
    ) -> list[WebchatMessage]:
        rows = await db.scalars(
            select(WebchatMessage)
            .where(WebchatMessage.session_id == session_id, WebchatMessage.seq > after)
            .order_by(WebchatMessage.seq)
            .limit(limit)
        )
        return list(rows.all())

    async def state(self, db: AsyncSession, session: WebchatSession) -> dict[str, Any]:
        status = await handoff.status(db, session.conversation_id)
        return {
            "handed_off": status.handed_off,
            "queue_position": status.queue_position,
            "agent": status.agent,
            "closed": status.closed,
            "csat_requested": bool(session.csat_requested and session.csat_score is None),
            "read_upto": session.read_upto,
        }

    async def rate(
        self, db: AsyncSession, session: WebchatSession, score: int, comment: str
    ) -> bool:
        """Records the visitor's rating once, when asked; False otherwise."""
        result = await db.execute(
            update(WebchatSession)
            .where(WebchatSession.id == session.id, WebchatSession.csat_requested.is_(True),
                   WebchatSession.csat_score.is_(None))
            .values(csat_score=score, csat_comment=comment or None)
        )  # fmt: skip
        await db.commit()
        self.watchers.wake(session.id)
        return result.rowcount == 1


def message_json(message: WebchatMessage) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "direction": message.direction,
        "sender": message.sender,
        "text": message.text,
        "card": message.card,
        "quick_replies": list(message.quick_replies or []),
        "created_at": message.created_at.isoformat(),
    }
