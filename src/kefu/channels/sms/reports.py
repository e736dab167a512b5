"""Status reports: matched to their messages in batches (one writer, one query per batch),
recorded, mirrored to conversations and to status callbacks, and only then acknowledged to the
carrier."""

from __future__ import annotations

import asyncio

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.callbacks import StatusCallbacks
from kefu.channels.sms.ids import variants
from kefu.channels.sms.models import SmsCarrierId, SmsMessage
from kefu.channels.sms.numbers import national
from kefu.channels.sms.store import UNKNOWN, insert_carrier_ids, mirror, mirror_many
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.protocols.message import Inbound
from kefu.vocabulary import DeliveryState

log = get_logger(__name__)

REPORT_BATCH = 500
REPORT_WAIT = 10.0  # seconds an early status report waits for its submit to be recorded

ReportItem = tuple[str, Inbound, float, "asyncio.Future[None] | None"]


class Reports:
    def __init__(
        self, *, sessionmaker: async_sessionmaker[AsyncSession], callbacks: StatusCallbacks
    ) -> None:
        self.sessionmaker = sessionmaker
        self.callbacks = callbacks
        self._reports: asyncio.Queue[ReportItem] = asyncio.Queue()
        self._stopping = False

    def put(self, link: str, item: Inbound) -> asyncio.Future[None]:
        """Queues a report; the future is set once it is recorded (or given up)."""
        loop = asyncio.get_running_loop()
        kept: asyncio.Future[None] = loop.create_future()
        self._reports.put_nowait((link, item, loop.time(), kept))
        return kept

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
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
                await insert_carrier_ids(db, new_ids)
            if delivered:
                await db.execute(
                    update(table).where(table.c.id == bindparam("mid"))
                    .values(state=DeliveryState.DELIVERED.value, delivered_at=utcnow(), meta=bindparam("meta"),
                            lease_until=None),
                    delivered,
                )  # fmt: skip
                await mirror_many(db, [r["mid"] for r in delivered], DeliveryState.DELIVERED.value)
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
                        await mirror(db, row["mid"], DeliveryState.FAILED.value, row["err"])
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
