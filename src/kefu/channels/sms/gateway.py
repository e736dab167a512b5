"""The SMS gateway: keeps carrier links bound, answers MO through the assistant, sends the
outbox and matches status reports.

Delivery semantics:
- An inbound message is stored, deduplicated on the carrier's delivery identity, before the
  carrier is told it arrived (the acknowledgement waits for the commit), so a crash before the
  commit leaves it with the carrier, which delivers it again. It is marked ``answered`` in the
  transaction that queues its replies; one stored but unanswered (a crash in between, or an
  error) is answered by the next start or by the periodic sweep.
- A status report is acknowledged to the carrier only once it is recorded (or cannot be
  matched after REPORT_WAIT).
- An outbound message is stored (state ``accepted``) before anyone is told it was accepted,
  and an idempotency key returns the original row instead of a second message.
- The sender claims rows under a lease (``sending``) and records the carrier's answer:
  ``sent`` with its ids; ``failed`` when the carrier refused it; back to ``accepted`` when no
  part reached the wire (the link was down: resending cannot duplicate it); ``unknown`` when a
  part was written and no answer came, because the carrier may have it. A row whose lease
  ran out (the process died mid-send) is ``unknown`` as well.
- An ``unknown`` row is settled by the carrier's status report, matched by the handset when
  the carrier id was never recorded; one with no report within ``unknown_resend_after``
  seconds is sent again (at-least-once: a duplicate is possible only if the carrier had it
  and never reported it).
- ``stop()`` stops claiming, lets the batch in flight finish and records it: a restart by
  signal loses nothing and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.callbacks import StatusCallbacks
from kefu.channels.sms.config import SmsLink, SmsRoute
from kefu.channels.sms.ids import variants
from kefu.channels.sms.links import make_client
from kefu.channels.sms.models import SmsCarrierId, SmsMessage
from kefu.channels.sms.numbers import is_mobile, national
from kefu.channels.sms.policy import SMS_POLICY
from kefu.conversations.models import Message
from kefu.conversations.relay import replies_to_relay
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.language.intents import match_code
from kefu.language.normalize import normalize
from kefu.logs import get_logger
from kefu.messaging.contract import InboundMessage
from kefu.messaging.pipeline import Pipeline
from kefu.partners import service as partners
from kefu.protocols.client import CarrierClient, Outcome
from kefu.protocols.message import Inbound, OutMessage
from kefu.vocabulary import Channel, DeliveryState, Direction, IdentityKind

log = get_logger(__name__)

DEDUPE_WINDOW = 60  # seconds in which an id-less MO with the same text is a re-delivery
REPORT_BATCH = 500
REPORT_WAIT = 10.0  # seconds an early status report waits for its submit to be recorded
BATCH = 200
RECORD_EVERY = 0.25  # seconds between recordings of a batch's carrier answers
MAX_SEND_ATTEMPTS = 20  # claims of one row that never reached the wire before it fails
SWEEP_EVERY = 5.0  # seconds between sweeps for expired leases, unknown rows, unanswered MOs
STOP_WAIT = 30.0  # seconds stop() lets the batch in flight finish
SENDING = "sending"
UNKNOWN = "unknown"  # written to the carrier, no answer: wait for its report, then resend
ANSWERED = "answered"  # an MO whose replies are in the outbox

ReportItem = tuple[str, Inbound, float, "asyncio.Future[None] | None"]


@dataclass(frozen=True)
class OutboundSms:
    to: str
    text: str
    kind: str
    link: str | None = None
    idempotency_key: str | None = None
    service_number: str | None = None
    meta: dict[str, Any] | None = None  # e.g. the sender, for its status callbacks


class SmsGateway:
    def __init__(
        self,
        *,
        links: Sequence[SmsLink],
        sessionmaker: async_sessionmaker[AsyncSession],
        pipeline: Pipeline | None,
        signature: str = "",
        routes: Sequence[SmsRoute] = (),
        clock: Any = time.time,
        lease_seconds: float = 120.0,
        unknown_resend_after: float = 300.0,
    ) -> None:
        self.links = {link.name: link for link in links}
        self.sessionmaker = sessionmaker
        self.pipeline = pipeline  # None: an outbox only (it never receives)
        self.signature = signature
        self.routes = {r.sub_code: r for r in routes}
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.unknown_resend_after = timedelta(seconds=unknown_resend_after)
        self.clients: dict[str, CarrierClient] = {}
        self.callbacks = StatusCallbacks()
        self._next_sweep = 0.0
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._reports: asyncio.Queue[ReportItem] = asyncio.Queue()
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
        """Stop claiming, let the batch in flight finish and be recorded, then unbind.
        Reports not yet recorded stay unacknowledged: the carrier delivers them again."""
        self._stopping = True
        self._wake.set()
        if self._sender is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._sender), STOP_WAIT)
            except TimeoutError:
                log.warning("sms_stop_batch_unfinished")  # its rows' leases will expire
        for loop_task in (self._sender, self._reporter):
            if loop_task is not None and not loop_task.done():
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
        """Settle what a previous process left: expired leases become ``unknown`` and
        stored MOs that were never answered are answered now."""
        await self._sweep(force=True)

    async def _sweep(self, force: bool = False) -> None:
        now_mono = time.monotonic()
        if not force and now_mono < self._next_sweep:
            return
        self._next_sweep = now_mono + SWEEP_EVERY
        now = utcnow()
        async with self.sessionmaker() as db:
            orphaned = await db.execute(
                update(SmsMessage)
                .where(SmsMessage.state == SENDING, SmsMessage.lease_until < now)
                .values(state=UNKNOWN, lease_until=now + self.unknown_resend_after,
                        error="interrupted while sending; waiting for the carrier's report")
            )  # fmt: skip
            resent = await db.execute(
                update(SmsMessage)
                .where(SmsMessage.state == UNKNOWN, SmsMessage.lease_until < now)
                .values(state=DeliveryState.ACCEPTED.value, lease_until=None,
                        error="sent again: no report after an unknown outcome")
            )  # fmt: skip
            await db.commit()
        if orphaned.rowcount or resent.rowcount:
            log.warning("sms_outbox_recovered", unknown=orphaned.rowcount, resent=resent.rowcount)
            self._wake.set()
        await self._answer_unanswered(now - timedelta(seconds=0 if force else 30))

    async def _answer_unanswered(self, stored_before: Any) -> None:
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
                await self._answer(row)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                log.exception("sms_mo_answer_failed", sms_id=row.id)
                await self._note_answer_failure(row.id, exc)

    async def _note_answer_failure(self, sms_id: int, exc: Exception) -> None:
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
                meta=dict(item.meta or {}),
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
            rows = await replies_to_relay(db, Channel.SMS.value, BATCH)
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
                await self._sweep()
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
        # Rows for a link that is down wait (claiming them would only bounce them back);
        # rows for a link no longer configured are claimed so that they fail with a reason.
        ready = [name for name, client in self.clients.items() if client.connected]
        async with self.sessionmaker() as db:
            ids = list(
                (
                    await db.scalars(
                        select(SmsMessage.id)
                        .where(
                            SmsMessage.state == DeliveryState.ACCEPTED.value,
                            or_(
                                SmsMessage.link.in_(ready),
                                SmsMessage.link.not_in(list(self.links)),
                                SmsMessage.link.is_(None),
                            ),
                        )
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
                .values(
                    state=SENDING, lease_until=now + self.lease, attempts=SmsMessage.attempts + 1
                )
                .returning(
                    SmsMessage.id,
                    SmsMessage.link,
                    SmsMessage.phone,
                    SmsMessage.text,
                    SmsMessage.service_number,
                    SmsMessage.attempts,
                )  # fmt: skip
            )
            rows = claimed.all()
            await db.commit()
        # Answers are recorded as they come (every RECORD_EVERY seconds), not when the whole
        # batch is done: a batch waiting on a reconnecting link must not hold back the
        # carrier ids that its early status reports need.
        submits = {asyncio.ensure_future(self._submit(*row)): row for row in rows}
        pending = set(submits)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=RECORD_EVERY)
            if done:
                finished = [submits[task] for task in done]
                await self._record_results(finished, [task.result() for task in done])
        return len(rows)

    async def _record_results(self, rows: Sequence[Any], results: Sequence[Outcome]) -> None:
        """One round trip per kind of change, not per message: this is what lets the outbox
        keep up with the carrier link."""
        now = utcnow()
        sent, failed, retry, unknown, carrier_rows = [], [], [], [], {}
        for (message_id, link, *_, attempts), outcome in zip(rows, results, strict=True):
            parts = max(len(outcome.message_ids), 1)
            row = {"mid": message_id, "parts": parts, "err": outcome.error[:200]}
            if outcome.ok:
                sent.append(row)
                for cid in {v for c in outcome.message_ids for v in variants(c)}:
                    carrier_rows.setdefault((link, cid), (message_id, False))
                for cid in outcome.message_ids:
                    carrier_rows[(link, cid.strip()[:64])] = (message_id, True)
            elif outcome.failure == "unsent" and attempts < MAX_SEND_ATTEMPTS:
                retry.append(row)
            elif outcome.failure == "unsent":
                failed.append(row | {"err": f"not sent after {attempts} tries: {row['err']}"[:200]})
            elif outcome.failure == "unknown":
                unknown.append(row)
            else:
                failed.append(row)
        table = SmsMessage.__table__
        by_id = table.c.id == bindparam("mid")
        async with self.sessionmaker() as db:
            if sent:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=DeliveryState.SENT.value, sent_at=now, lease_until=None,
                            parts=bindparam("parts"), error=None),
                    [{"mid": r["mid"], "parts": r["parts"]} for r in sent],
                )  # fmt: skip
                await self._mirror_many(db, [r["mid"] for r in sent], DeliveryState.SENT.value)
            if retry:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=DeliveryState.ACCEPTED.value, lease_until=None, error=bindparam("err")),
                    [{"mid": r["mid"], "err": r["err"]} for r in retry],
                )  # fmt: skip
            if unknown:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=UNKNOWN, lease_until=now + self.unknown_resend_after, error=bindparam("err")),
                    [{"mid": r["mid"], "err": r["err"]} for r in unknown],
                )  # fmt: skip
            if failed:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=DeliveryState.FAILED.value, lease_until=None,
                            parts=bindparam("parts"), error=bindparam("err")),
                    failed,
                )  # fmt: skip
                for row in failed:
                    await self._mirror(db, row["mid"], DeliveryState.FAILED.value, row["err"])
            if carrier_rows:
                await self._insert_carrier_ids(db, carrier_rows)
            await self.callbacks.emit(db, [r["mid"] for r in (*sent, *failed)])
            await db.commit()
        if retry:
            self._wake.set()

    @staticmethod
    async def _insert_carrier_ids(
        db: AsyncSession, rows: dict[tuple[str, str], tuple[int, bool]]
    ) -> None:
        """Stores (link, id) → (message, exact). An exact id replaces what was stored under it
        (a variant of another message's id, or an id the carrier has since reused); a variant
        never replaces anything."""
        insert = dialect_insert(db, SmsCarrierId)
        upsert = insert.on_conflict_do_update(
            index_elements=["link", "carrier_id"],
            set_={"message_id": insert.excluded.message_id, "exact": insert.excluded.exact},
            where=insert.excluded.exact,
        )
        await db.execute(
            upsert,
            [{"link": link, "carrier_id": cid, "message_id": mid, "exact": exact}
             for (link, cid), (mid, exact) in rows.items()],
        )  # fmt: skip

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
        self, _id: int, link: str | None, phone: str, text: str, source: str, _attempts: int
    ) -> Outcome:
        client = self.clients.get(link or "")
        if client is None:
            return Outcome(False, error=f"no carrier link named {link!r}", failure="refused")
        return await client.submit(OutMessage(phone, text, source=source))

    # ----------------------------------------------------------------- inbound
    def _on_inbound(self, link: str, item: Inbound) -> asyncio.Future[Any]:
        """Returns what the link awaits before it acknowledges the item to the carrier."""
        if item.kind == "report":
            # Reports come by the thousand; one writer takes them in batches.
            loop = asyncio.get_running_loop()
            kept: asyncio.Future[None] = loop.create_future()
            self._reports.put_nowait((link, item, loop.time(), kept))
            return kept
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self.receive_mo(link, item, stored))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: _settle(stored, t))
        return stored

    async def _report_loop(self) -> None:
        while not self._stopping:
            batch = [await self._reports.get()]
            while len(batch) < REPORT_BATCH and not self._reports.empty():
                batch.append(self._reports.get_nowait())
            try:
                await self._record_reports(batch)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive one bad batch
                log.exception("sms_report_batch_failed", reports=len(batch))
                for *_, kept in batch:  # left unacknowledged: the carrier sends them again
                    if kept is not None and not kept.done():
                        kept.set_exception(exc)

    async def _record_reports(self, batch: list[ReportItem], requeue: bool = True) -> int:
        """Matches a batch of reports with one query and records them with one UPDATE per
        outcome; returns how many matched. With ``requeue`` a report whose submit is not
        recorded yet goes back to the queue until REPORT_WAIT has passed since it came.
        A report is acknowledged (its future set) once recorded or given up."""
        loop = asyncio.get_running_loop()
        wanted = {v for _, item, *_ in batch for v in variants(item.message_id)}
        done: list[asyncio.Future[None]] = []
        async with self.sessionmaker() as db:
            # (link, id) → (message, its handset): a report names the handset too, and a
            # match must agree on it (ids of two messages can collide across hex/decimal).
            found: dict[tuple[str, str], tuple[int, str]] = {}
            listed = sorted(wanted)
            for start in range(0, len(listed), 500):
                rows = await db.execute(
                    select(SmsCarrierId.link, SmsCarrierId.carrier_id, SmsCarrierId.message_id,
                           SmsMessage.phone)
                    .join(SmsMessage, SmsMessage.id == SmsCarrierId.message_id)
                    .where(SmsCarrierId.carrier_id.in_(listed[start : start + 500]))
                )  # fmt: skip
                found.update({(link, cid): (mid, phone) for link, cid, mid, phone in rows.all()})

            def match(link: str, item: Inbound) -> int | None:
                quoted, handset = item.message_id.strip(), national(item.source)
                for form in (quoted, *sorted(variants(quoted))):
                    mid, phone = found.get((link, form), (None, ""))
                    if mid is not None and (not handset or phone == handset):
                        return mid
                return None

            unmatched = [(link, item) for link, item, *_ in batch if match(link, item) is None]
            adopted = await self._adopt_unknown(db, unmatched) if unmatched else {}
            delivered, failed, new_ids = [], [], {}
            for link, item, first_seen, kept in batch:
                quoted = item.message_id.strip()
                mid = match(link, item)
                if mid is None and (link, national(item.source)) in adopted:
                    mid = adopted[(link, national(item.source))]
                    for cid in variants(quoted):
                        new_ids[(link, cid)] = (mid, cid == quoted)
                if mid is None:
                    if requeue and loop.time() - first_seen < REPORT_WAIT:
                        entry = (link, item, first_seen, kept)
                        loop.call_later(0.2, self._reports.put_nowait, entry)
                        continue
                    if requeue:
                        log.warning("sms_report_unmatched", link=link, carrier_id=item.message_id)
                    if kept is not None:
                        done.append(kept)
                    continue
                if kept is not None:
                    done.append(kept)
                row = {"mid": mid, "meta": {"report": item.stat}}
                if item.delivered:
                    delivered.append(row)
                else:
                    failed.append(row | {"err": f"carrier report {item.stat}"})
            if delivered or failed:  # keep what meta holds already (the sender, …)
                ids = [r["mid"] for r in (*delivered, *failed)]
                metas = dict(
                    (await db.execute(select(SmsMessage.id, SmsMessage.meta).where(SmsMessage.id.in_(ids)))).all()
                )  # fmt: skip
                for r in (*delivered, *failed):
                    r["meta"] = {**(metas.get(r["mid"]) or {}), **r["meta"]}
            table = SmsMessage.__table__
            now_failed: set[int] = set()
            if new_ids:
                await self._insert_carrier_ids(db, new_ids)
            if delivered:
                await db.execute(
                    update(table).where(table.c.id == bindparam("mid"))
                    .values(state=DeliveryState.DELIVERED.value, delivered_at=utcnow(), meta=bindparam("meta"),
                            lease_until=None),
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
                    .values(state=DeliveryState.FAILED.value, error=bindparam("err"), meta=bindparam("meta"),
                            lease_until=None),
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
            reported = [r["mid"] for r in delivered]
            reported += [r["mid"] for r in failed if r["mid"] in now_failed]
            await self.callbacks.emit(db, reported)
            await db.commit()
        for kept in done:
            if not kept.done():
                kept.set_result(None)
        return len(delivered) + len(failed)

    @staticmethod
    async def _adopt_unknown(
        db: AsyncSession, unmatched: list[tuple[str, Inbound]]
    ) -> dict[tuple[str, str], int]:
        """A report for no known carrier id may be for a row whose submit answer never came
        (``unknown``): the oldest such row to the same handset on the same link takes it."""
        phones = sorted({national(item.source) for _, item in unmatched})
        rows = await db.execute(
            select(SmsMessage.id, SmsMessage.link, SmsMessage.phone)
            .where(SmsMessage.state == UNKNOWN, SmsMessage.phone.in_(phones))
            .order_by(SmsMessage.id.desc())
        )
        return {(link, phone): mid for mid, link, phone in rows.all()}  # oldest id wins

    async def receive_report(self, link: str, item: Inbound, wait: float = REPORT_WAIT) -> bool:
        """Records one report now (the links' reports go through the batch writer); an
        unmatched one is looked up again for ``wait`` seconds before it is given up."""
        deadline = asyncio.get_running_loop().time() + wait
        while not await self._record_reports([(link, item, 0.0, None)], requeue=False):
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
                _settle(stored)
                return None
        _settle(stored)
        try:
            await self._answer(inbound)
        except Exception as exc:  # noqa: BLE001 - stored: the sweep answers it later
            log.exception("sms_mo_answer_failed", sms_id=inbound.id)
            await self._note_answer_failure(inbound.id, exc)
        return inbound

    async def _answer(self, inbound: SmsMessage) -> None:
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
                await self.enqueue(db, to=phone, text=text, kind="reply", link=link or None,
                                   service_number=inbound.service_number,
                                   idempotency_key=f"reply:{inbound.id}:{n}")  # fmt: skip
            for n, note in enumerate(notifications):
                if note.channel == Channel.SMS.value:
                    await self.enqueue(db, to=note.to, text=note.text, kind="otp",
                                       link=link or None,
                                       idempotency_key=f"note:{inbound.id}:{n}")  # fmt: skip
            await db.commit()

    async def _to_partner(self, db: AsyncSession, link: str, inbound: SmsMessage) -> bool:
        """A text to a partner's sub-code (95511 + 5566) goes to the partner's callbacks as an
        ``sms.mo`` event, in the transaction that marks it answered. Opt-out words stay with
        the hall (TD is the bank's business on every sub-code); so does a text for a partner
        with no callback, which the hall answers rather than leave unanswered."""
        sub = self._sub_code(link, inbound.service_number) if link in self.links else ""
        if not sub or match_code(normalize(inbound.text)) == "unsubscribe":
            return False
        partner = await partners.by_sub_code(db, sub)
        if partner is None or not await self.callbacks.emit_mo(db, partner.id, inbound):
            return False
        if await self._mark_answered(
            db, inbound, meta={**(inbound.meta or {}), "partner": partner.name}
        ):
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


def _settle(future: asyncio.Future[None] | None, task: asyncio.Task[Any] | None = None) -> None:
    """Completes ``future`` (from ``task``'s exception, if it failed) unless already done."""
    if future is None or future.done():
        return
    if task is not None and task.cancelled():
        future.cancel()  # stopped before it was stored: stays with the carrier
    elif task is not None and task.exception() is not None:
        future.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        future.set_result(None)
