"""Texts from customers (MO): stored and deduplicated on the carrier's delivery identity
before the carrier is acknowledged, then answered through the message pipeline (or routed by
the sub-code dialled: the agents' number, a partner's callbacks); an MO stored but not answered
is answered by the sweep."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.callbacks import StatusCallbacks
from kefu.channels.sms.config import SmsLink, SmsRoute
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.numbers import national
from kefu.channels.sms.outbox import BATCH, Outbox
from kefu.channels.sms.policy import SMS_POLICY
from kefu.channels.sms.store import ANSWERED
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.messaging.contract import InboundMessage
from kefu.messaging.pipeline import Pipeline
from kefu.protocols.message import Inbound
from kefu.vocabulary import Channel, DeliveryState, Direction, IdentityKind

log = get_logger(__name__)

DEDUPE_WINDOW = 60  # seconds in which an id-less MO with the same text is a re-delivery


class TextsIn:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        pipeline: Pipeline | None,
        links: Mapping[str, SmsLink],
        routes: Mapping[str, SmsRoute],
        callbacks: StatusCallbacks,
        outbox: Outbox,
        clock: Callable[[], float],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.pipeline = pipeline  # None: an outbox-only gateway, which never receives
        self.links = links
        self.routes = routes
        self.callbacks = callbacks
        self.outbox = outbox
        self.clock = clock

    async def answer_unanswered(self, stored_before: Any) -> None:
        async with self.sessionmaker() as db:
            rows = (
                await db.scalars(
                    select(SmsMessage)
                    .where(
                        SmsMessage.direction == Direction.INBOUND.value,
                        SmsMessage.state == DeliveryState.RECEIVED.value,
                        SmsMessage.created_at <= stored_before,
                    )
                    .order_by(SmsMessage.id)
                    .limit(BATCH)
                )
            ).all()
        for row in rows:
            try:
                await self.answer(row)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                log.exception("sms_mo_answer_failed", sms_id=row.id)
                await self.note_answer_failure(row.id, exc)

    async def note_answer_failure(self, sms_id: int, exc: Exception) -> None:
        """Counts failed answers; the third marks the MO failed, visible, not retried."""
        async with self.sessionmaker() as db:
            row = await db.get(SmsMessage, sms_id)
            if row is None or row.state != DeliveryState.RECEIVED.value:
                return
            row.attempts += 1
            if row.attempts >= 3:
                row.state = DeliveryState.FAILED.value
                row.error = f"could not be answered: {exc}"[:200]
            await db.commit()

    def _delivery_key(self, link: str, item: Inbound) -> str:
        """The identity of one carrier delivery. CMPP/SMGP MO carry a unique message id; an
        SMPP MO usually carries none, so its identity is its addresses and text within one
        minute: a re-delivery (sent again because our answer was lost) comes within seconds,
        while the same command sent again later is a new message and gets a new answer."""
        ids = ",".join(i for i in item.message_ids if i)
        basis = ids or f"{item.source}|{item.dest}|{item.text}|{int(self.clock() // DEDUPE_WINDOW)}"
        return "in:" + hashlib.sha256(f"{link}|{basis}".encode()).hexdigest()[:40]

    def _sub_code(self, link: str, dest: str) -> str:
        service = self.links[link].service_number
        return dest[len(service) :] if dest.startswith(service) else ""

    def _route(self, link: str, dest: str) -> SmsRoute | None:
        sub = self._sub_code(link, dest)
        return self.routes.get(sub) if sub else None

    async def receive_mo(
        self, link: str, item: Inbound, stored: asyncio.Future[None] | None = None
    ) -> SmsMessage | None:
        """Stores and answers one MO; a re-delivery of the same MO returns None. ``stored``
        is set once the MO is committed (or known to be a re-delivery): the carrier is
        acknowledged then, not after the answer. Raises when the MO could not be stored."""
        async with self.sessionmaker() as db:
            inbound = SmsMessage(
                direction=Direction.INBOUND.value, link=link, phone=national(item.source),
                service_number=item.dest, text=item.text, kind="mo",
                state=DeliveryState.RECEIVED.value, dedupe_key=self._delivery_key(link, item),
                parts=item.parts,
            )  # fmt: skip
            db.add(inbound)
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                log.info("sms_mo_duplicate", link=link)
                settle(stored)
                return None
        settle(stored)
        try:
            await self.answer(inbound)
        except Exception as exc:  # noqa: BLE001 - stored: the sweep answers it later
            log.exception("sms_mo_answer_failed", sms_id=inbound.id)
            await self.note_answer_failure(inbound.id, exc)
        return inbound

    async def answer(self, inbound: SmsMessage) -> None:
        """Queues the replies to a stored MO and marks it answered, in one transaction."""
        phone, link = inbound.phone, inbound.link or ""
        route = self._route(link, inbound.service_number) if link in self.links else None
        async with self.sessionmaker() as db:
            if route is None and await self._to_partner(db, link, inbound):
                return
            if route is not None and route.service == "agents":
                await self._to_agents(db, phone, inbound.text, route)
                replies = ["您的消息已转交人工客服，我们会尽快回复您。"]
                notifications = []
            else:
                assert self.pipeline is not None, "an outbox-only gateway received a text"
                message = InboundMessage(
                    channel=Channel.SMS.value, account=link, sender=phone, text=inbound.text,
                    identity_kind=IdentityKind.PHONE.value, external_id=f"sms:{inbound.id}",
                    metadata={"service_number": inbound.service_number},
                )  # fmt: skip
                outcome = await self.pipeline.handle(db, message, SMS_POLICY)
                replies, notifications = outcome.texts(), outcome.notifications
            if not await self._mark_answered(db, inbound):
                return
            for n, text in enumerate(replies):
                await self.outbox.enqueue(db, to=phone, text=text, kind="reply", link=link or None,
                                   service_number=inbound.service_number,
                                   idempotency_key=f"reply:{inbound.id}:{n}")  # fmt: skip
            for n, note in enumerate(notifications):
                if note.channel == Channel.SMS.value:
                    await self.outbox.enqueue(db, to=note.to, text=note.text, kind="otp",
                                       link=link or None,
                                       idempotency_key=f"note:{inbound.id}:{n}")  # fmt: skip
            await db.commit()

    async def _to_partner(self, db: AsyncSession, link: str, inbound: SmsMessage) -> bool:
        """A text to a sub-code that is not one of the hall's routes may belong to a business
        the pipeline routes (a partner's callbacks); marked answered in that transaction."""
        sub = self._sub_code(link, inbound.service_number) if link in self.links else ""
        if not sub or self.pipeline is None:
            return False
        message = InboundMessage(
            channel=Channel.SMS.value, account=link, sender=inbound.phone, text=inbound.text,
            identity_kind=IdentityKind.PHONE.value, external_id=f"sms:{inbound.id}",
            metadata={"sub_code": sub, "service_number": inbound.service_number,
                      "sms_id": inbound.id, "parts": inbound.parts},
            received_at=inbound.created_at or utcnow(),
        )  # fmt: skip
        routed = await self.pipeline.route(db, message)
        if routed is None:
            return False
        if await self._mark_answered(db, inbound, meta={**(inbound.meta or {}), **routed.meta}):
            await db.commit()
        return True

    @staticmethod
    async def _mark_answered(db: AsyncSession, inbound: SmsMessage, **values: Any) -> bool:
        """Marks a stored MO answered in ``db``'s transaction; False (and rolled back) when
        another process answered it meanwhile."""
        answering = await db.execute(
            update(SmsMessage)
            .where(SmsMessage.id == inbound.id, SmsMessage.state == DeliveryState.RECEIVED.value)
            .values(state=ANSWERED, **values)
        )  # fmt: skip
        if not answering.rowcount:
            await db.rollback()
            return False
        return True

    async def _to_agents(self, db: AsyncSession, phone: str, text: str, route: SmsRoute) -> None:
        assert self.pipeline is not None
        message = InboundMessage(channel=Channel.SMS.value, account="", sender=phone, text=text,
                                 identity_kind=IdentityKind.PHONE.value)  # fmt: skip
        await self.pipeline.hand_off(db, message, subject=route.label or text,
                                     attributes={"sub_code": route.sub_code})  # fmt: skip


def settle(future: asyncio.Future[None] | None, task: asyncio.Task[Any] | None = None) -> None:
    """Completes ``future`` (from ``task``'s exception, if it failed) unless already done."""
    if future is None or future.done():
        return
    if task is not None and task.cancelled():
        future.cancel()  # stopped before it was stored: stays with the carrier
    elif task is not None and task.exception() is not None:
        future.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        future.set_result(None)
