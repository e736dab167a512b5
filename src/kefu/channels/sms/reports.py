"""Status reports: matched to their messages in batches (one writer, one query per batch),
recorded, mirrored to conversations and to status callbacks, and only then acknowledged to the
carrier. A report no message takes (yet) is kept in the database before it is acknowledged,
never dropped: the sweep settles its message when its carrier id is recorded or its row turns
out to be one a killed gateway had sent without recording the answer."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.callbacks import StatusCallbacks
from kefu.channels.sms.ids import variants
from kefu.channels.sms.models import SmsCarrierId, SmsKeptReport, SmsMessage
from kefu.channels.sms.numbers import national
from kefu.channels.sms.store import UNKNOWN, insert_carrier_ids, mirror, mirror_many
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.protocols.message import Inbound
from kefu.vocabulary import DeliveryState

log = get_logger(__name__)

REPORT_BATCH = 500
REPORT_WAIT = 10.0  # seconds an early status report waits in memory for its submit's answer
KEEP_MATCHING = timedelta(days=1)  # how long the sweep tries to match a kept report

ReportItem = tuple[str, Inbound, float, "asyncio.Future[None] | None"]


class Reports:
    def __init__(
        self, *, sessionmaker: async_sessionmaker[AsyncSession], callbacks: StatusCallbacks
    ) -> None:
        self.sessionmaker = sessionmaker
        self.callbacks = callbacks
        self._reports: asyncio.Queue[ReportItem] = asyncio.Queue()
        self._stopping = False
        # Reports received and not yet recorded or kept → when each came (wall clock): the
        # outbox sends an unreported row again only once every report that came before its
        # wait ran out has been looked at (one may be that row's).
        self._open: dict[asyncio.Future[None], datetime] = {}
        self.sender: str | None = None  # this gateway process's id, once registered

    def put(self, link: str, item: Inbound) -> asyncio.Future[None]:
        """Queues a report; the future is set once it is recorded (or given up)."""
        loop = asyncio.get_running_loop()
        kept: asyncio.Future[None] = loop.create_future()
        self._open[kept] = utcnow()
        kept.add_done_callback(self._closed)
        self._reports.put_nowait((link, item, loop.time(), kept))
        return kept

    def _closed(self, kept: asyncio.Future[None]) -> None:
        self._open.pop(kept, None)

    def looked_at_until(self) -> datetime:
        """Every report received before this moment has been recorded or kept (now, when
        none is waiting): the carrier's word up to then is known."""
        return min(self._open.values(), default=utcnow())

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

    async def _record_reports(
        self, batch: list[ReportItem], requeue: bool = True, keep: bool = True
    ) -> int:
        """Matches a batch of reports with one query and records them with one UPDATE per
        outcome; returns how many matched. With ``requeue`` a report whose submit is not
        recorded yet goes back to the queue until REPORT_WAIT has passed since it came; then
        (with ``keep``) it is kept in ``sms_kept_reports`` for the sweep to settle later.
        A report is acknowledged (its future set) only once recorded or kept."""
        loop = asyncio.get_running_loop()
        done: list[asyncio.Future[None]] = []
        async with self.sessionmaker() as db:
            # When each came (first_seen 0.0: a report handed in directly, now): delivered_at
            # is the carrier's word, not our recording of it, so a backlog here does not
            # stretch the report lag the outbox judges its report wait on.
            now, mono = utcnow(), loop.time()
            came = [now - timedelta(seconds=mono - seen) if seen else now
                    for _, _, seen, _ in batch]  # fmt: skip
            mids = await self._settle(db, [(link, item) for link, item, *_ in batch], came)
            unmatched: list[tuple[str, Inbound]] = []
            for (link, item, first_seen, kept), mid in zip(batch, mids, strict=True):
                if mid is None and requeue and loop.time() - first_seen < REPORT_WAIT:
                    entry = (link, item, first_seen, kept)
                    loop.call_later(0.2, self._reports.put_nowait, entry)
                    continue
                if mid is None:
                    if not keep:
                        continue
                    unmatched.append((link, item))
                if kept is not None:
                    done.append(kept)
            if unmatched:
                await keep_reports(db, unmatched)
                log.info("sms_report_kept", reports=len(unmatched))
            await db.commit()
        for kept in done:
            if not kept.done():
                kept.set_result(None)
        return sum(1 for mid in mids if mid is not None)

    async def settle_kept(self) -> int:
        """The sweep: kept reports of the last KEEP_MATCHING that a message now takes (its
        submit's answer was recorded since, or its row turned out to be interrupted) settle it
        and go; returns how many."""
        async with self.sessionmaker() as db:
            kept = (
                await db.scalars(
                    select(SmsKeptReport)
                    .where(SmsKeptReport.received_at > utcnow() - KEEP_MATCHING)
                    .order_by(SmsKeptReport.id.desc())
                    .limit(REPORT_BATCH * 4)
                )
            ).all()
            if not kept:
                return 0
            items = [(k.link, Inbound("report", k.handset, "", message_id=k.carrier_id,
                                      stat=k.stat, delivered=k.delivered)) for k in kept]  # fmt: skip
            mids = await self._settle(db, items, [k.received_at for k in kept])
            taken = [k.id for k, mid in zip(kept, mids, strict=True) if mid is not None]
            if taken:
                await db.execute(delete(SmsKeptReport).where(SmsKeptReport.id.in_(taken)))
            await db.commit()
        if taken:
            log.info("sms_kept_reports_settled", reports=len(taken))
        return len(taken)

    async def prune_kept(self, keep: timedelta) -> int:
        """Deletes kept reports older than ``keep`` (never less than KEEP_MATCHING): a report
        still kept after its matching day took no message and never will; it stays only as
        evidence for someone looking into a lost report, and the table must not grow for
        ever. Returns how many went."""
        before = utcnow() - max(keep, KEEP_MATCHING)
        async with self.sessionmaker() as db:
            gone = await db.execute(delete(SmsKeptReport).where(SmsKeptReport.received_at < before))
            await db.commit()
        count = gone.rowcount or 0  # type: ignore[attr-defined]
        if count:
            log.info("sms_kept_reports_pruned", reports=count)
        return count

    async def _settle(
        self, db: AsyncSession, batch: list[tuple[str, Inbound]], came: list[datetime]
    ) -> list[int | None]:
        """The message each report is for (None: none yet), recorded in ``db`` (not committed):
        by the carrier id, else (a row interrupted before its answer was recorded) by the
        handset, which the row's meta then says."""
        # (link, id) → (message, its handset): a report names the handset too, and a
        # match must agree on it (ids of two messages can collide across hex/decimal).
        found: dict[tuple[str, str], tuple[int, str]] = {}
        info: dict[int, tuple[dict | None, str]] = {}  # message → (its meta, its kind)
        sent_by: dict[int, str | None] = {}  # message → the gateway process that sent it

        async def look_up(ids: set[str]) -> None:
            listed = sorted(ids)
            for start in range(0, len(listed), 500):
                rows = await db.execute(
                    select(SmsCarrierId.link, SmsCarrierId.carrier_id, SmsCarrierId.message_id,
                           SmsMessage.phone, SmsMessage.meta, SmsMessage.kind, SmsMessage.sender)
                    .join(SmsMessage, SmsMessage.id == SmsCarrierId.message_id)
                    .where(SmsCarrierId.carrier_id.in_(listed[start : start + 500]))
                )  # fmt: skip
                for link, cid, mid, phone, meta, kind, sender in rows.all():
                    sent_by[mid] = sender
                    found[(link, cid)] = (mid, phone)
                    info[mid] = (meta, kind)

        def match(link: str, item: Inbound) -> int | None:
            quoted, handset = item.message_id.strip(), national(item.source)
            for form in (quoted, *sorted(variants(quoted))):
                mid, phone = found.get((link, form), (None, ""))
                if mid is not None and (not handset or phone == handset):
                    return mid
            return None

        # The id as quoted first (a report almost always quotes the submit's answer as it
        # was; its variants are stored too, so one row per report comes back instead of
        # five), then every variant for the reports that did not match so.
        await look_up({item.message_id.strip() for _, item in batch})
        unmatched = [item for link, item in batch if match(link, item) is None]
        if unmatched:
            await look_up({v for item in unmatched for v in variants(item.message_id)})
        mids = [match(link, item) for link, item in batch]
        # One report per carrier id (the carrier may deliver one twice): each takes its own row.
        orphans = {(link, item.message_id.strip()): (link, item)
                   for (link, item), mid in zip(batch, mids, strict=True) if mid is None}  # fmt: skip
        adopted = await self._adopt_interrupted(db, list(orphans.values())) if orphans else {}
        delivered, failed, new_ids = [], [], {}
        for n, (link, item) in enumerate(batch):
            quoted = item.message_id.strip()
            how = None
            if mids[n] is None and (link, quoted) in adopted:
                mids[n], how = adopted[(link, quoted)]
                for cid in variants(quoted):
                    new_ids[(link, cid)] = (mids[n], cid == quoted)
            mid = mids[n]
            if mid is None:
                continue
            meta = {"report": item.stat} | ({"report_matched": how} if how else {})
            row = {"mid": mid, "meta": meta}
            if item.delivered:
                # The sender stays only on a row whose report came to the process that sent
                # it: its lag is the carrier's; one that waited out a restart (or came by the
                # handset) has ours in it, and the outbox judges its report wait without those.
                mine = self.sender is not None and sent_by.get(mid) == self.sender
                delivered.append(row | {"at": came[n], "sender": self.sender if mine else None})
            else:
                failed.append(row | {"err": f"carrier report {item.stat}"})
        await self._record(db, delivered, failed, new_ids, info)
        return mids

    async def _record(
        self, db: AsyncSession, delivered: list[dict], failed: list[dict], new_ids: dict,
        info: dict[int, tuple[dict | None, str]],
    ) -> None:  # fmt: skip
        """``info``: the meta and kind of the messages matched by carrier id (read with the
        match); those adopted by handset are read here."""
        rows = (*delivered, *failed)
        unread = [r["mid"] for r in rows if r["mid"] not in info]
        if unread:
            info.update(
                (mid, (meta, kind)) for mid, meta, kind in (await db.execute(
                    select(SmsMessage.id, SmsMessage.meta, SmsMessage.kind)
                    .where(SmsMessage.id.in_(unread)))).all()
            )  # fmt: skip
        for r in rows:  # keep what meta holds already (the sender, …)
            r["meta"] = {**(info.get(r["mid"], (None, ""))[0] or {}), **r["meta"]}
        # Only conversation replies have a conversation message to follow their state.
        replies = {r["mid"] for r in rows if info.get(r["mid"], (None, ""))[1] == "reply"}
        table = SmsMessage.__table__
        now_failed: set[int] = set()
        if new_ids:
            await insert_carrier_ids(db, new_ids)
        if delivered:
            await db.execute(
                update(table).where(table.c.id == bindparam("mid"))
                .values(state=DeliveryState.DELIVERED.value, delivered_at=bindparam("at"), meta=bindparam("meta"),
                        sender=bindparam("sender"),
                        lease_until=None),
                delivered,
            )  # fmt: skip
            mirrored = [r["mid"] for r in delivered if r["mid"] in replies]
            if mirrored:
                await mirror_many(db, mirrored, DeliveryState.DELIVERED.value)
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
                if row["mid"] in now_failed and row["mid"] in replies:
                    await mirror(db, row["mid"], DeliveryState.FAILED.value, row["err"])
        reported = [r["mid"] for r in delivered]
        reported += [r["mid"] for r in failed if r["mid"] in now_failed]
        await self.callbacks.emit(db, reported)

    @staticmethod
    async def _adopt_interrupted(
        db: AsyncSession, orphans: list[tuple[str, Inbound]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        """A report for no known carrier id may be for a row whose submit's answer was never
        recorded (``unknown``: the link dropped, or its gateway died): each such report takes
        a different row to the same handset on the same link, oldest first. Only the handset
        ties them, so the row says so (``report_matched``: "number", or "number, one of N"
        when N rows to that handset were waiting and which report is whose is a guess)."""
        phones = sorted({national(item.source) for _, item in orphans})
        rows = await db.execute(
            select(SmsMessage.id, SmsMessage.link, SmsMessage.phone)
            .where(SmsMessage.state == UNKNOWN, SmsMessage.phone.in_(phones))
            .order_by(SmsMessage.id)
        )
        waiting: dict[tuple[str | None, str], list[int]] = {}
        for mid, link, phone in rows.all():
            waiting.setdefault((link, phone), []).append(mid)
        counts = {key: len(ids) for key, ids in waiting.items()}
        adopted: dict[tuple[str, str], tuple[int, str]] = {}
        for link, item in orphans:
            key = (link, national(item.source))
            if waiting.get(key):
                how = "number" if counts[key] == 1 else f"number, one of {counts[key]}"
                adopted[(link, item.message_id.strip())] = (waiting[key].pop(0), how)
        return adopted

    async def receive_report(self, link: str, item: Inbound, wait: float = REPORT_WAIT) -> bool:
        """Records one report now (the links' reports go through the batch writer); an
        unmatched one is looked up again for ``wait`` seconds, then kept for the sweep."""
        deadline = asyncio.get_running_loop().time() + wait
        while not await self._record_reports([(link, item, 0.0, None)], requeue=False, keep=False):
            if asyncio.get_running_loop().time() >= deadline:
                await self._record_reports([(link, item, 0.0, None)], requeue=False)
                log.warning("sms_report_unmatched", link=link, carrier_id=item.message_id)
                return False
            await asyncio.sleep(0.2)
        return True


async def keep_reports(db: AsyncSession, reports: list[tuple[str, Inbound]]) -> None:
    """Keeps reports no message takes yet, once each (a carrier may deliver one twice)."""
    ids = sorted({item.message_id.strip()[:64] for _, item in reports})
    have = set(
        (
            await db.execute(
                select(SmsKeptReport.link, SmsKeptReport.carrier_id).where(
                    SmsKeptReport.carrier_id.in_(ids)
                )
            )
        ).all()
    )
    now = utcnow()
    for link, item in reports:
        key = (link, item.message_id.strip()[:64])
        if key in have:
            continue
        have.add(key)
        db.add(SmsKeptReport(link=link, carrier_id=key[1], handset=national(item.source)[:21],
                             stat=item.stat[:16], delivered=item.delivered, received_at=now))  # fmt: skip
