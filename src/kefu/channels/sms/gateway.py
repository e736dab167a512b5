"""The SMS gateway: keeps carrier links bound, answers MO through the assistant, sends the
outbox and matches status reports.

Delivery semantics:
- An inbound message is stored, deduplicated on the carrier's delivery identity, before it
  is answered: a carrier's re-delivery is answered once.
- An outbound message is stored (state ``accepted``) before anyone is told it was accepted,
  and an idempotency key returns the original row instead of a second message.
- The sender claims rows under a lease and records the carrier's answer. A submit the
  carrier refused with throttling is retried by the protocol client; a submit whose answer
  never came is marked ``failed`` with that reason and not resent, because the carrier may
  have accepted it (a resend could reach the handset twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.assistant.engine import Assistant
from kefu.assistant.turns import Turn
from kefu.channels.sms.config import SmsLink, SmsRoute
from kefu.channels.sms.ids import variants
from kefu.channels.sms.links import make_client
from kefu.channels.sms.models import SmsCarrierId, SmsMessage
from kefu.channels.sms.numbers import is_mobile, national
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.protocols.client import CarrierClient
from kefu.protocols.message import Inbound, OutMessage
from kefu.routing import intake
from kefu.vocabulary import Channel, DeliveryState, Direction

log = get_logger(__name__)

LEASE = timedelta(seconds=120)
DEDUPE_WINDOW = 60  # seconds in which an id-less MO with the same text is a re-delivery
REPORT_BATCH = 500
REPORT_WAIT = 10.0  # seconds an early status report waits for its submit to be recorded
BATCH = 200


@dataclass(frozen=True)
class OutboundSms:
    to: str
    text: str
    kind: str
    link: str | None = None
    idempotency_key: str | None = None
    service_number: str | None = None


class SmsGateway:
    def __init__(
        self,
        *,
        links: Sequence[SmsLink],
        sessionmaker: async_sessionmaker[AsyncSession],
        assistant: Assistant,
        signature: str = "",
        routes: Sequence[SmsRoute] = (),
        today: Any = date.today,
        clock: Any = time.time,
    ) -> None:
        self.links = {link.name: link for link in links}
        self.sessionmaker = sessionmaker
        self.assistant = assistant
        self.signature = signature
        self.routes = {r.sub_code: r for r in routes}
        self.today = today
        self.clock = clock
        self.clients: dict[str, CarrierClient] = {}
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._reports: asyncio.Queue[tuple[str, Inbound, float]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self._recover()
        for name, config in self.links.items():
            client = make_client(config, on_inbound=lambda item, n=name: self._on_inbound(n, item))
            self.clients[name] = client
            await client.start(wait=False)
        self._sender = asyncio.create_task(self._send_loop(), name="sms-sender")
        self._reporter = asyncio.create_task(self._report_loop(), name="sms-reports")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for loop_task in (self._sender, self._reporter):
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
        for client in self.clients.values():
            await client.close()

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"connected": c.connected, "last_error": c.last_error, **c.stats}
            for name, c in self.clients.items()
        }

    async def _recover(self) -> None:
        """Rows a previous process left mid-send: their outcome is unknown, so they are
        failed with that reason rather than resent (see the module docstring)."""
        async with self.sessionmaker() as db:
            await db.execute(
                update(SmsMessage)
                .where(SmsMessage.state == "sending")
                .values(
                    state=DeliveryState.FAILED.value,
                    error="interrupted while sending; outcome unknown",
                )
            )
            await db.commit()

    # ----------------------------------------------------------------- outbox
    async def enqueue(
        self,
        db: AsyncSession,
        *,
        to: str,
        text: str,
        kind: str,
        link: str | None = None,
        idempotency_key: str | None = None,
        service_number: str | None = None,
    ) -> SmsMessage:
        """Stores one outbound message in the caller's transaction and returns it; with an
        idempotency key already used, returns the original instead."""
        item = OutboundSms(to, text, kind, link, idempotency_key, service_number)
        return (await self.enqueue_many(db, [item]))[0]

    async def enqueue_many(
        self, db: AsyncSession, items: Sequence[OutboundSms]
    ) -> list[SmsMessage]:
        """Stores many outbound messages with one look-up of their idempotency keys and one
        flush; returns them in order (an already used key returns the original row)."""
        keys = [f"out:{i.idempotency_key}" for i in items if i.idempotency_key]
        existing: dict[str, SmsMessage] = {}
        for chunk in range(0, len(keys), 500):
            rows = await db.scalars(
                select(SmsMessage).where(SmsMessage.dedupe_key.in_(keys[chunk : chunk + 500]))
            )
            existing.update({m.dedupe_key: m for m in rows.all() if m.dedupe_key})
        out: list[SmsMessage] = []
        for item in items:
            key = f"out:{item.idempotency_key}" if item.idempotency_key else None
            if key and key in existing:
                out.append(existing[key])
                continue
            link_name = item.link or next(iter(self.links), None)
            config = self.links.get(link_name) if link_name else None
            signed = self.signature and not item.text.startswith(self.signature)
            message = SmsMessage(
                direction=Direction.OUTBOUND.value,
                link=link_name,
                phone=item.to,
                service_number=item.service_number or (config.service_number if config else ""),
                text=self.signature + item.text if signed else item.text,
                kind=item.kind,
                state=DeliveryState.ACCEPTED.value,
                dedupe_key=key,
            )
            db.add(message)
            if key:
                existing[key] = message  # the same key twice in one call is one message
            out.append(message)
        await db.flush()
        self._wake.set()
        return out

    async def relay_conversation_replies(self) -> int:
        """Agents' replies in SMS conversations go out through the outbox; the conversation's
        message then follows the SMS's delivery state (``external_id`` = ``sms:<id>``)."""
        async with self.sessionmaker() as db:
            rows = (
                await db.execute(
                    select(Message, Conversation.contact)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Message.channel == Channel.SMS.value,
                        Message.direction == Direction.OUTBOUND.value,
                        Message.delivery_state == DeliveryState.ACCEPTED.value,
                        Message.external_id.is_(None),
                    )
                    .order_by(Message.id)
                    .limit(BATCH)
                )
            ).all()
            for message, contact in rows:
                if not is_mobile(contact or ""):
                    message.delivery_state = DeliveryState.FAILED.value
                    message.delivery_error = "the conversation has no mobile number to text"
                    continue
                sms = await self.enqueue(db, to=contact, text=message.body, kind="reply",
                                         idempotency_key=f"conversation-message:{message.id}")  # fmt: skip
                message.external_id = f"sms:{sms.id}"
            await db.commit()
        return len(rows)

    @staticmethod
    async def _mirror(db: AsyncSession, sms_id: int, state: str, error: str | None = None) -> None:
        await db.execute(
            update(Message)
            .where(Message.external_id == f"sms:{sms_id}", Message.channel == Channel.SMS.value)
            .values(delivery_state=state, delivery_error=error)
        )

    async def _send_loop(self) -> None:
        while not self._stopping:
            try:
                await self.relay_conversation_replies()
                sent = await self._send_batch()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad batch
                log.exception("sms_send_batch_failed")
                sent = 0
            if not sent:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _send_batch(self) -> int:
        now = utcnow()
        async with self.sessionmaker() as db:
            ids = list(
                (
                    await db.scalars(
                        select(SmsMessage.id)
                        .where(SmsMessage.state == DeliveryState.ACCEPTED.value)
                        .order_by(SmsMessage.id)
                        .limit(BATCH)
                    )
                ).all()
            )
            if not ids:
                return 0
            # The state condition makes the claim safe against a second gateway process.
            claimed = await db.execute(
                update(SmsMessage)
                .where(SmsMessage.id.in_(ids), SmsMessage.state == DeliveryState.ACCEPTED.value)
                .values(state="sending", lease_until=now + LEASE, attempts=SmsMessage.attempts + 1)
                .returning(
                    SmsMessage.id,
                    SmsMessage.link,
                    SmsMessage.phone,
                    SmsMessage.text,
                    SmsMessage.service_number,
                )  # fmt: skip
            )
            rows = claimed.all()
            await db.commit()
        results = await asyncio.gather(*(self._submit(*row) for row in rows))
        await self._record_results(rows, results)
        return len(rows)

    async def _record_results(self, rows: Sequence[Any], results: Sequence[tuple]) -> None:
        """One round trip per kind of change, not per message: this is what lets the outbox
        keep up with the carrier link."""
        now = utcnow()
        sent, failed, carrier_rows = [], [], {}
        for (message_id, link, *_), (ok, carrier_ids, error, parts) in zip(
            rows, results, strict=True
        ):
            if ok:
                sent.append({"mid": message_id, "parts": parts})
                for cid in {v for c in carrier_ids for v in variants(c)}:
                    carrier_rows[(link, cid)] = message_id
            else:
                failed.append({"mid": message_id, "parts": parts, "err": error[:200]})
        async with self.sessionmaker() as db:
            if sent:
                await db.execute(
                    update(SmsMessage.__table__)
                    .where(SmsMessage.__table__.c.id == bindparam("mid"))
                    .values(
                        state=DeliveryState.SENT.value,
                        sent_at=now,
                        lease_until=None,
                        parts=bindparam("parts"),
                    ),  # fmt: skip
                    sent,
                )
                await self._mirror_many(db, [r["mid"] for r in sent], DeliveryState.SENT.value)
            if failed:
                await db.execute(
                    update(SmsMessage.__table__)
                    .where(SmsMessage.__table__.c.id == bindparam("mid"))
                    .values(
                        state=DeliveryState.FAILED.value,
                        lease_until=None,
                        parts=bindparam("parts"),
                        error=bindparam("err"),
                    ),  # fmt: skip
                    failed,
                )
                for row in failed:
                    await self._mirror(db, row["mid"], DeliveryState.FAILED.value, row["err"])
            if carrier_rows:
                insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
                await db.execute(
                    insert(SmsCarrierId).on_conflict_do_nothing(),
                    [
                        {"link": link, "carrier_id": cid, "message_id": mid}
                        for (link, cid), mid in carrier_rows.items()
                    ],  # fmt: skip
                )
            await db.commit()

    @staticmethod
    async def _mirror_many(db: AsyncSession, sms_ids: list[int], state: str) -> None:
        await db.execute(
            update(Message)
            .where(
                Message.external_id.in_([f"sms:{i}" for i in sms_ids]),
                Message.channel == Channel.SMS.value,
            )
            .values(delivery_state=state)
        )

    async def _submit(
        self, _id: int, link: str | None, phone: str, text: str, source: str
    ) -> tuple[bool, list[str], str, int]:
        client = self.clients.get(link or "")
        if client is None:
            return False, [], f"no carrier link named {link!r}", 0
        outcome = await client.submit(OutMessage(phone, text, source=source))
        return outcome.ok, outcome.message_ids, outcome.error, max(len(outcome.message_ids), 1)

    # ----------------------------------------------------------------- inbound
    def _on_inbound(self, link: str, item: Inbound) -> Any:
        if item.kind == "report":
            # Reports come by the thousand; one writer takes them in batches.
            self._reports.put_nowait((link, item, asyncio.get_running_loop().time()))
            return None
        task = asyncio.ensure_future(self._handle_inbound(link, item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    async def _handle_inbound(self, link: str, item: Inbound) -> None:
        try:
            if item.kind == "report":
                await self.receive_report(link, item)
            else:
                await self.receive_mo(link, item)
        except Exception:  # noqa: BLE001 - one bad message must not stop the link
            log.exception("sms_inbound_failed", link=link, kind=item.kind)

    async def _report_loop(self) -> None:
        while not self._stopping:
            batch = [await self._reports.get()]
            while len(batch) < REPORT_BATCH and not self._reports.empty():
                batch.append(self._reports.get_nowait())
            try:
                await self._record_reports(batch)
            except Exception:  # noqa: BLE001 - the loop must outlive one bad batch
                log.exception("sms_report_batch_failed", reports=len(batch))

    async def _record_reports(
        self, batch: list[tuple[str, Inbound, float]], requeue: bool = True
    ) -> int:
        """Matches a batch of reports with one query and records them with one UPDATE per
        outcome; returns how many matched. With ``requeue`` a report whose submit is not
        recorded yet goes back to the queue until REPORT_WAIT has passed since it came."""
        loop = asyncio.get_running_loop()
        wanted = {v for _, item, _ in batch for v in variants(item.message_id)}
        async with self.sessionmaker() as db:
            found: dict[tuple[str, str], int] = {}
            listed = sorted(wanted)
            for start in range(0, len(listed), 500):
                rows = await db.execute(
                    select(
                        SmsCarrierId.link, SmsCarrierId.carrier_id, SmsCarrierId.message_id
                    ).where(SmsCarrierId.carrier_id.in_(listed[start : start + 500]))
                )
                found.update({(link, cid): mid for link, cid, mid in rows.all()})
            delivered, failed = [], []
            for link, item, first_seen in batch:
                mid = next(
                    (found[(link, v)] for v in variants(item.message_id) if (link, v) in found),
                    None,
                )
                if mid is None:
                    if not requeue:
                        continue
                    if loop.time() - first_seen < REPORT_WAIT:
                        loop.call_later(0.2, self._reports.put_nowait, (link, item, first_seen))
                    else:
                        log.warning("sms_report_unmatched", link=link, carrier_id=item.message_id)
                    continue
                row = {"mid": mid, "meta": {"report": item.stat}}
                if item.delivered:
                    delivered.append(row)
                else:
                    failed.append(row | {"err": f"carrier report {item.stat}"})
            table = SmsMessage.__table__
            if delivered:
                await db.execute(
                    update(table).where(table.c.id == bindparam("mid"))
                    .values(state=DeliveryState.DELIVERED.value, delivered_at=utcnow(), meta=bindparam("meta")),
                    delivered,
                )  # fmt: skip
                await self._mirror_many(
                    db, [r["mid"] for r in delivered], DeliveryState.DELIVERED.value
                )
            if failed:
                # A later failure report never undoes a delivery.
                await db.execute(
                    update(table)
                    .where(table.c.id == bindparam("mid"), table.c.state != DeliveryState.DELIVERED.value)
                    .values(state=DeliveryState.FAILED.value, error=bindparam("err"), meta=bindparam("meta")),
                    failed,
                )  # fmt: skip
                # Mirror only those now failed: a row delivered before keeps its delivery.
                now_failed = set(
                    (
                        await db.scalars(
                            select(SmsMessage.id).where(
                                SmsMessage.id.in_([r["mid"] for r in failed]),
                                SmsMessage.state == DeliveryState.FAILED.value,
                            )
                        )
                    ).all()
                )
                for row in failed:
                    if row["mid"] in now_failed:
                        await self._mirror(db, row["mid"], DeliveryState.FAILED.value, row["err"])
            await db.commit()
        return len(delivered) + len(failed)

    async def receive_report(self, link: str, item: Inbound, wait: float = REPORT_WAIT) -> bool:
        """Records one report now (the links' reports go through the batch writer); an
        unmatched one is looked up again for ``wait`` seconds before it is given up."""
        deadline = asyncio.get_running_loop().time() + wait
        while not await self._record_reports([(link, item, 0.0)], requeue=False):
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("sms_report_unmatched", link=link, carrier_id=item.message_id)
                return False
            await asyncio.sleep(0.2)
        return True

    def _delivery_key(self, link: str, item: Inbound) -> str:
        """The identity of one carrier delivery. CMPP/SMGP MO carry a unique message id; an
        SMPP MO usually carries none, so its identity is its addresses and text within one
        minute: a re-delivery (sent again because our answer was lost) comes within seconds,
        while the same command sent again later is a new message and gets a new answer."""
        ids = ",".join(i for i in item.message_ids if i)
        basis = ids or f"{item.source}|{item.dest}|{item.text}|{int(self.clock() // DEDUPE_WINDOW)}"
        return "in:" + hashlib.sha256(f"{link}|{basis}".encode()).hexdigest()[:40]

    def _route(self, link: str, dest: str) -> SmsRoute | None:
        service = self.links[link].service_number
        sub = dest[len(service) :] if dest.startswith(service) else ""
        return self.routes.get(sub) if sub else None

    async def receive_mo(self, link: str, item: Inbound) -> SmsMessage | None:
        """Stores and answers one MO; a re-delivery of the same MO returns None."""
        phone = national(item.source)
        async with self.sessionmaker() as db:
            inbound = SmsMessage(
                direction=Direction.INBOUND.value, link=link, phone=phone, service_number=item.dest,
                text=item.text, kind="mo", state=DeliveryState.RECEIVED.value,
                dedupe_key=self._delivery_key(link, item), parts=item.parts,
            )  # fmt: skip
            db.add(inbound)
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                log.info("sms_mo_duplicate", link=link)
                return None
        route = self._route(link, item.dest)
        async with self.sessionmaker() as db:
            if route is not None and route.service == "agents":
                await self._to_agents(db, phone, item.text, route)
                replies = ["您的消息已转交人工客服，我们会尽快回复您。"]
                notifications = []
            else:
                reply = await self.assistant.handle(
                    db, Turn(Channel.SMS.value, phone, item.text, self.today())
                )
                replies, notifications = reply.texts, reply.notifications
            for n, text in enumerate(replies):
                await self.enqueue(db, to=phone, text=text, kind="reply", link=link,
                                   service_number=item.dest,
                                   idempotency_key=f"reply:{inbound.id}:{n}")  # fmt: skip
            for n, note in enumerate(notifications):
                if note.channel == Channel.SMS.value:
                    await self.enqueue(db, to=note.to, text=note.text, kind="otp", link=link,
                                       idempotency_key=f"note:{inbound.id}:{n}")  # fmt: skip
            await db.commit()
        return inbound

    async def _to_agents(self, db: AsyncSession, phone: str, text: str, route: SmsRoute) -> None:
        await intake.open_conversation(
            db, channel=Channel.SMS.value, contact=phone, text=text, now=utcnow(),
            subject=(route.label or text)[:200], attributes={"sub_code": route.sub_code},
            actor=f"sms:{phone}",
        )  # fmt: skip
