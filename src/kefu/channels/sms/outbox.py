"""The SMS outbox: messages stored before anyone is told they were accepted, claimed under a
lease by the sender, submitted on their link and recorded with the carrier's answer (see the
delivery rules in ``gateway.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.callbacks import StatusCallbacks
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.ids import variants
from kefu.channels.sms.models import SmsMessage, SmsSender
from kefu.channels.sms.numbers import is_mobile
from kefu.channels.sms.senders import Senders
from kefu.channels.sms.store import SENDING, UNKNOWN, insert_carrier_ids, mirror, mirror_many
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.messaging import relay
from kefu.protocols.client import CarrierClient, Outcome
from kefu.protocols.message import OutMessage
from kefu.vocabulary import Channel, DeliveryState, Direction

log = get_logger(__name__)

BATCH = 200  # rows for a link no longer configured, claimed at once (they fail at once)
# Windows' worth of rows claimed per link at once: few, so that a crash leaves few rows whose
# fate is open, and enough that the claim's round trip does not set the pace (4 windows sent
# 411 msg/s through the API where 10 sent 753 and the 200-row batches before them 775:
# benchmarks/sms_api_throughput.py --messages 3000, same loaded machine).
CLAIM_WINDOWS = 10
RECORD_EVERY = 0.25  # seconds between recordings of a batch's carrier answers
REPORT_SAMPLE = 500  # recent reports a link's report wait is judged on
REPORT_SLACK = timedelta(seconds=5)
RESENT = "sent again: interrupted, and no report came; the handset may get it twice"
REQUEUED = "queued again: its gateway stopped before submitting it (never sent)"
MAX_SEND_ATTEMPTS = 20  # claims of one row that never reached the wire before it fails
# Seconds a link must have been bound in this process before its silence about an unknown row
# counts: the carrier delivers the reports it held (or that a killed gateway never
# acknowledged) as soon as a link binds; this is the margin for them to come in and be read.
REPORTS_AFTER_BIND = 2.0
# Windows marked (and handed to the link) at once, when the link has no more than one window
# handed and unanswered, so that the next mark's round trip overlaps the window in flight. A
# mark is a commit: one per window cost 0.17 CPU-ms per message more on SQLite (100-recipient
# requests, 4 links, load 20); three windows a mark leave about three windows per link marked
# and unwritten at a crash (they wait for the report wait) where ten were before any mark.
MARK_WINDOWS = 3


@dataclass(frozen=True)
class OutboundSms:
    to: str
    text: str
    kind: str
    link: str | None = None
    idempotency_key: str | None = None
    service_number: str | None = None
    meta: dict[str, Any] | None = None  # e.g. the sender, for its status callbacks


class Outbox:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        links: Mapping[str, SmsLink],
        clients: Mapping[str, CarrierClient],
        callbacks: StatusCallbacks,
        signature: str,
        lease: timedelta,
        unknown_resend_after: timedelta,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.links = links
        self.clients = clients  # the gateway's links, filled when it starts
        self.callbacks = callbacks
        self.signature = signature
        self.lease = lease
        self.unknown_resend_after = unknown_resend_after
        self.wake = asyncio.Event()  # set when there is something to send
        self.sender: str | None = None  # this process's id in sms_senders, once registered
        self._report_waits: dict[str | None, tuple[float, timedelta]] = {}
        self._bound_since: dict[str, tuple[int, float]] = {}  # link → (its connects, since)
        self.reports_after_bind = REPORTS_AFTER_BIND
        self.stopping = False  # set by the gateway's stop(): hand nothing more to the links

    async def mark_interrupted(self, senders: Senders) -> int:
        """Rows whose sender died (or whose lease ran out): one never marked as submitted
        (``submitted_at``, committed before its PDUs go to the socket) provably never reached
        the carrier, so it is queued again at once, as if never claimed; a marked one becomes
        ``unknown``: the carrier may have it, so it waits for its report (``reports.py``
        settles it from it). Returns how many rows were taken from dead senders."""
        now = utcnow()
        table = SmsMessage.__table__
        async with self.sessionmaker() as db:
            dead = await senders.dead(db)
            # Every condition is in the UPDATEs themselves, not only in the SELECT: a sender
            # taken for dead may still be marking (PostgreSQL re-reads a row another
            # transaction changed before updating it), and a row requeued meanwhile may have
            # been claimed by a live one.
            orphan = and_(table.c.state == SENDING,
                          or_(table.c.lease_until < now, table.c.sender.in_(dead)))  # fmt: skip
            requeued = (
                await db.execute(
                    update(table)
                    .where(orphan, table.c.submitted_at.is_(None))
                    .values(state=DeliveryState.ACCEPTED.value, lease_until=None, sender=None,
                            error=REQUEUED)
                    .returning(table.c.id)
                )
            ).scalars().all()  # fmt: skip
            links = (await db.scalars(select(table.c.link).where(orphan).distinct())).all()
            waits: dict[str, float] = {}  # for the log: what the rows wait for their reports
            unknown = 0
            for link in links:
                wait = await self.report_wait(db, link)
                waits[str(link)] = wait.total_seconds()
                link_is = table.c.link.is_(None) if link is None else table.c.link == link
                unknown += (
                    await db.execute(
                        update(table)
                        .where(orphan, link_is, table.c.submitted_at.is_not(None))
                        .values(state=UNKNOWN, lease_until=now + wait,
                                error="interrupted while sending; waiting for the carrier's report")
                    )
                ).rowcount  # fmt: skip
            if dead:
                await db.execute(delete(SmsSender).where(SmsSender.id.in_(dead)))
            await db.commit()
        if requeued or unknown or dead:
            log.warning("sms_outbox_interrupted", requeued=len(requeued), unknown=unknown,
                        dead_senders=len(dead), report_wait=waits)  # fmt: skip
        if requeued:
            self.wake.set()
        return len(requeued) + unknown

    async def resend_unreported(self, looked_at_until: Callable[[], datetime] | None = None) -> int:
        """An ``unknown`` row still without a report after its link's report wait goes back
        to ``accepted``, marked ``possibly_duplicated``: the carrier may have had it, so the
        handset may get it twice (the send API and the status callbacks say so).

        The wait runs from when the row became ``unknown``, across restarts: what must hold
        when it is sent again is only that the carrier's word up to then is known here, i.e.
        its link has been bound in this process for REPORTS_AFTER_BIND (the carrier delivers
        the reports it held, or a killed gateway never acknowledged, when a link binds) and
        every report received before the wait ran out has been looked at
        (``looked_at_until``: ``Reports.looked_at_until``, asked after this method's first
        round trips, so that reports read from the link meanwhile count)."""
        now = utcnow()
        async with self.sessionmaker() as db:
            waits = {name: await self.report_wait(db, name) for name in self.links}
            # A row made unknown before its link's reports could be judged waits the whole
            # unknown_resend_after; once they can, it waits no longer than the judged wait
            # from now (a fresh link's first cut must not hold its unsent rows for minutes).
            for name, wait in waits.items():
                if wait >= self.unknown_resend_after:
                    continue  # not judged yet: nothing to shorten
                await db.execute(
                    update(SmsMessage)
                    .where(SmsMessage.state == UNKNOWN, SmsMessage.link == name,
                           SmsMessage.lease_until > now + wait)
                    .values(lease_until=now + wait)
                )  # fmt: skip
            await db.commit()
            cutoff = min(now, looked_at_until()) if looked_at_until is not None else now
            # Only for links bound here long enough to have had the reports the carrier held
            # for us (a gateway killed soon after its start must not make the next one
            # resend before those reports came). Not for a whole report wait in one process:
            # with kills every few seconds no gateway lived that long, and rows a killed one
            # held waited for the last restart (428 s in the kill drill).
            heard = [name for name in self.links
                     if self._bound_for(name) >= self.reports_after_bind]  # fmt: skip
            gone = SmsMessage.link.not_in(list(self.links))  # these fail when claimed
            due = (
                await db.execute(
                    select(SmsMessage.id, SmsMessage.meta)
                    .where(SmsMessage.state == UNKNOWN, SmsMessage.lease_until < cutoff,
                           or_(SmsMessage.link.in_(heard), gone, SmsMessage.link.is_(None)))
                    .limit(1000)
                )
            ).all()  # fmt: skip
            if not due:
                return 0
            table = SmsMessage.__table__
            await db.execute(
                update(table)
                .where(table.c.id == bindparam("mid"), table.c.state == UNKNOWN)
                .values(state=DeliveryState.ACCEPTED.value, lease_until=None, sender=None,
                        meta=bindparam("meta"), error=RESENT),
                [{"mid": mid, "meta": {**(meta or {}), "possibly_duplicated": True}}
                 for mid, meta in due],
            )  # fmt: skip
            await db.commit()
        log.warning("sms_outbox_resent", resent=len(due))
        self.wake.set()
        return len(due)

    def _bound_for(self, link: str) -> float:
        """Seconds the link has been bound in this process without a break (0: not bound)."""
        client = self.clients.get(link)
        if client is None or not client.connected:
            self._bound_since.pop(link, None)
            return 0.0
        connects = client.stats.get("connects", 0)
        seen = self._bound_since.get(link)
        if seen is None or seen[0] != connects:
            self._bound_since[link] = seen = (connects, time.monotonic())
        return time.monotonic() - seen[1]

    async def report_wait(self, db: AsyncSession, link: str | None) -> timedelta:
        """How long a row that may be with the carrier waits for its report before it is sent
        again: three times the link's slow recent reports (the 90th percentile of the last
        REPORT_SAMPLE reports' lag, submit's answer recorded → report received, of those that
        came to the gateway process that sent them) plus
        REPORT_SLACK, at most ``unknown_resend_after``; a link with too few reports to judge
        waits ``unknown_resend_after``."""
        cached = self._report_waits.get(link)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        rows = (
            await db.execute(
                select(SmsMessage.sent_at, SmsMessage.delivered_at)
                .where(SmsMessage.link == link, SmsMessage.direction == Direction.OUTBOUND.value,
                       SmsMessage.state == DeliveryState.DELIVERED.value,
                       SmsMessage.sent_at.is_not(None),
                       # its report came to the process that sent it (reports.py): the lag
                       # is the carrier's, with no restart of ours in it
                       SmsMessage.sender.is_not(None))
                .order_by(SmsMessage.id.desc())
                .limit(REPORT_SAMPLE)
            )
        ).all()  # fmt: skip
        wait = self.unknown_resend_after
        judged = len(rows) >= REPORT_SAMPLE // 10
        if judged:
            lags = sorted(max((d - s).total_seconds(), 0.0) for s, d in rows if d is not None)
            if lags:
                # The 90th percentile of the carrier's own lag: reports that waited out a
                # restart of ours are left out above (with a gateway killed every few seconds
                # they were most of the sample, and made the wait 71-149 s in the kill drill
                # at load 15-17); those the carrier held come at the next bind, which
                # resend_unreported waits for anyway. The rarer slow ones are what the
                # possibly_duplicated mark is for.
                slowest = lags[min(len(lags) - 1, int(len(lags) * 0.9))]
                wait = min(wait, timedelta(seconds=3 * slowest) + REPORT_SLACK)
        # Judged: kept a minute. Not yet: looked at again soon, as reports come in.
        self._report_waits[link] = (time.monotonic() + (60.0 if judged else 5.0), wait)
        return wait

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
        self.wake.set()
        return out

    async def relay_conversation_replies(self) -> int:
        """Agents' replies in SMS conversations go out through the outbox; the conversation's
        message then follows the SMS's delivery state (``external_id`` = ``sms:<id>``)."""
        async with self.sessionmaker() as db:
            rows = await relay.pending_replies(db, Channel.SMS.value, BATCH)
            for reply in rows:
                if not is_mobile(reply.outbound.to):
                    await relay.mark_handed(
                        db, reply.message_id, external_id=None, state=DeliveryState.FAILED.value,
                        error="the conversation has no mobile number to text",
                    )  # fmt: skip
                    continue
                sms = await self.enqueue(db, to=reply.outbound.to, text=reply.outbound.text,
                                         kind="reply",
                                         idempotency_key=f"conversation-message:{reply.message_id}")  # fmt: skip
                await relay.mark_handed(db, reply.message_id, external_id=f"sms:{sms.id}",
                                        state=DeliveryState.ACCEPTED.value)  # fmt: skip
            await db.commit()
        return len(rows)

    async def send_batch(self) -> int:
        """Claims CLAIM_WINDOWS windows' worth of rows per bound link and sends them.
        Claiming no more than that keeps the rows whose fate a crash leaves open (marked,
        answer not recorded) few; those claimed and not yet marked are queued again at once
        by the next gateway (``mark_interrupted``)."""
        rows = await self._claim()
        if rows:
            await self.submit_claimed(rows)
        return len(rows)

    async def _claim(self) -> list[Any]:
        now = utcnow()
        # Rows for a link that is down wait (claiming them would only bounce them back);
        # rows for a link no longer configured are claimed so that they fail with a reason.
        ready = {name: client.window * CLAIM_WINDOWS
                 for name, client in self.clients.items() if client.connected}  # fmt: skip
        for name in self.links:
            self._bound_for(name)  # notes when each link bound
        async with self.sessionmaker() as db:
            waiting = select(SmsMessage.id).where(SmsMessage.state == DeliveryState.ACCEPTED.value)
            ids: list[int] = []
            for name, window in ready.items():
                ids += (
                    await db.scalars(
                        waiting.where(SmsMessage.link == name).order_by(SmsMessage.id).limit(window)
                    )
                ).all()
            ids += (
                await db.scalars(
                    waiting.where(or_(SmsMessage.link.not_in(list(self.links)), SmsMessage.link.is_(None)))
                    .order_by(SmsMessage.id).limit(BATCH)
                )
            ).all()  # fmt: skip
            if not ids:
                return []
            # The state condition makes the claim safe against a second gateway process.
            claimed = await db.execute(
                update(SmsMessage)
                .where(SmsMessage.id.in_(ids), SmsMessage.state == DeliveryState.ACCEPTED.value)
                .values(
                    state=SENDING,
                    lease_until=now + self.lease,
                    attempts=SmsMessage.attempts + 1,
                    sender=self.sender,
                    submitted_at=None,  # a claim is not a submit: see submit_claimed
                )
                .returning(
                    SmsMessage.id,
                    SmsMessage.link,
                    SmsMessage.phone,
                    SmsMessage.text,
                    SmsMessage.service_number,
                    SmsMessage.attempts,
                    SmsMessage.kind,
                )  # fmt: skip
            )
            rows = claimed.all()
            await db.commit()
        return list(rows)

    async def submit_claimed(self, rows: Sequence[Any]) -> None:
        """Hands claimed rows to their links a window at a time, each window only once its
        mark (``submitted_at``) is committed: whatever reaches the carrier's socket is marked,
        so a claimed row a crash leaves unmarked provably never left, and is queued again at
        once instead of waiting for a report that cannot come.

        The marks of all links ready for more go in one UPDATE of MARK_WINDOWS windows per
        link, written while the window before is on the wire: a link holds at most
        MARK_WINDOWS + 1 windows handed to it and not answered, so a crash leaves at most
        about MARK_WINDOWS windows per link marked but never written; those wait for the
        report wait, as before.

        Answers are recorded as they come (every RECORD_EVERY seconds), in a task of their
        own, not when the whole batch is done: a batch waiting on a reconnecting link must
        not hold back the carrier ids that its early status reports need, and recording must
        not hold back the next mark."""
        waiting: dict[str | None, deque[Any]] = {}
        for row in rows:
            waiting.setdefault(row[1], deque()).append(row)
        out: dict[str | None, int] = dict.fromkeys(waiting, 0)  # handed and not finished
        finished: list[tuple[Any, Outcome]] = []
        progress = asyncio.Event()
        recorder: asyncio.Task[None] | None = None
        tasks: set[asyncio.Future[Outcome]] = set()
        loop = asyncio.get_running_loop()
        record_at = loop.time() + RECORD_EVERY

        def done(task: asyncio.Future[Outcome], row: Any) -> None:
            tasks.discard(task)
            out[row[1]] -= 1
            if task.cancelled() or task.exception() is not None:
                # Marked, so it may have been written: the carrier's report decides.
                why = "cancelled" if task.cancelled() else repr(task.exception())
                outcome = Outcome(False, error=f"submit failed: {why}", failure="unknown")
            else:
                outcome = task.result()
            finished.append((row, outcome))
            progress.set()

        while waiting or tasks or finished:
            if self.stopping and waiting:  # never written: back to the queue now
                await self._release([row for queue in waiting.values() for row in queue])
                waiting.clear()
            marking: list[Any] = []
            for link, queue in list(waiting.items()):
                client = self.clients.get(link or "")
                if client is None:
                    batch = list(queue)  # no link to write to: they fail at once, unwritten
                    queue.clear()
                    self._hand(batch, tasks, out, done)
                elif out[link] <= client.window:
                    take = min(client.window * MARK_WINDOWS, len(queue))
                    marking += [queue.popleft() for _ in range(take)]
                if not queue:
                    del waiting[link]
            if marking:
                try:
                    marked = await self._mark([row[0] for row in marking])
                except Exception:  # noqa: BLE001 - unmarked rows are safe to requeue
                    log.exception("sms_submit_mark_failed")
                    left = marking + [row for queue in waiting.values() for row in queue]
                    waiting.clear()
                    with contextlib.suppress(Exception):  # else their lease requeues them
                        await self._release(left)
                    continue
                if len(marked) < len(marking):
                    # Another gateway took this one for dead and requeued them: not ours.
                    log.warning("sms_submit_rows_taken", rows=len(marking) - len(marked))
                self._hand([row for row in marking if row[0] in marked], tasks, out, done)
                continue  # more links may be ready now
            if finished and (loop.time() >= record_at or not (waiting or tasks)):
                if recorder is not None:
                    await recorder  # one recording at a time; they are many rows each
                batch, finished[:] = list(finished), []
                recorder = asyncio.ensure_future(
                    self._record_results([r for r, _ in batch], [o for _, o in batch])
                )
                record_at = loop.time() + RECORD_EVERY
                continue
            if not (waiting or tasks):
                break
            progress.clear()
            wait = max(record_at - loop.time(), 0.01) if finished else RECORD_EVERY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), wait)
        if recorder is not None:
            await recorder

    def _hand(self, rows: Sequence[Any], tasks: set[Any], out: dict[Any, int], done: Any) -> None:
        for row in rows:
            task = asyncio.ensure_future(self._submit(*row))
            tasks.add(task)
            out[row[1]] += 1
            task.add_done_callback(lambda t, r=row: done(t, r))

    async def _mark(self, ids: Sequence[int]) -> set[int]:
        """Marks claimed rows as about to be written to the carrier, in one UPDATE committed
        before they are: returns the ids still this process's to send."""
        table = SmsMessage.__table__
        mine = table.c.sender == self.sender if self.sender else table.c.sender.is_(None)
        async with self.sessionmaker() as db:
            marked = await db.execute(
                update(table)
                .where(table.c.id.in_(ids), table.c.state == SENDING, mine)
                .values(submitted_at=utcnow())
                .returning(table.c.id)
            )
            got = set(marked.scalars().all())
            await db.commit()
        return got

    async def _release(self, rows: Sequence[Any]) -> None:
        """Claimed rows never marked go back to the queue at once (a stop, a failed mark)."""
        if not rows:
            return
        table = SmsMessage.__table__
        mine = table.c.sender == self.sender if self.sender else table.c.sender.is_(None)
        async with self.sessionmaker() as db:
            await db.execute(
                update(table)
                .where(table.c.id.in_([row[0] for row in rows]), table.c.state == SENDING,
                       table.c.submitted_at.is_(None), mine)
                .values(state=DeliveryState.ACCEPTED.value, lease_until=None, sender=None)
            )  # fmt: skip
            await db.commit()
        self.wake.set()

    async def _record_results(self, rows: Sequence[Any], results: Sequence[Outcome]) -> None:
        """One round trip per kind of change, not per message: this is what lets the outbox
        keep up with the carrier link."""
        now = utcnow()
        sent, failed, retry, unknown, carrier_rows = [], [], [], [], {}
        for (message_id, link, *_, attempts, _kind), outcome in zip(rows, results, strict=True):
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
        # Only conversation replies have a conversation message to follow their state: the
        # others' mirror would be an UPDATE per batch that finds nothing.
        replies = {row[0] for row in rows if row[-1] == "reply"}
        table = SmsMessage.__table__
        # Only a row still ours to record: another gateway may have settled it from its
        # report (or sent it again) while this process was taken for dead.
        by_id = and_(
            table.c.id == bindparam("mid"),
            or_(table.c.state == SENDING, table.c.state == UNKNOWN),  # no IN: executemany
            table.c.sender == self.sender if self.sender else table.c.sender.is_(None),
        )
        async with self.sessionmaker() as db:
            if sent:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=DeliveryState.SENT.value, sent_at=now, lease_until=None,
                            parts=bindparam("parts"), error=None),
                    [{"mid": r["mid"], "parts": r["parts"]} for r in sent],
                )  # fmt: skip
                mirrored = [r["mid"] for r in sent if r["mid"] in replies]
                if mirrored:
                    await mirror_many(db, mirrored, DeliveryState.SENT.value)
            if retry:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=DeliveryState.ACCEPTED.value, lease_until=None, error=bindparam("err")),
                    [{"mid": r["mid"], "err": r["err"]} for r in retry],
                )  # fmt: skip
            if unknown:
                links = {mid: link for mid, link, *_ in rows}
                waits = {link: await self.report_wait(db, link) for link in set(links.values())}
                await db.execute(
                    update(table).where(by_id)
                    .values(state=UNKNOWN, lease_until=bindparam("until"), error=bindparam("err")),
                    [{"mid": r["mid"], "err": r["err"], "until": now + waits[links[r["mid"]]]}
                     for r in unknown],
                )  # fmt: skip
            if failed:
                await db.execute(
                    update(table).where(by_id)
                    .values(state=DeliveryState.FAILED.value, lease_until=None,
                            parts=bindparam("parts"), error=bindparam("err")),
                    failed,
                )  # fmt: skip
                for row in failed:
                    if row["mid"] in replies:
                        await mirror(db, row["mid"], DeliveryState.FAILED.value, row["err"])
            if carrier_rows:
                await insert_carrier_ids(db, carrier_rows)
            await self.callbacks.emit(db, [r["mid"] for r in (*sent, *failed)])
            await db.commit()
        if retry:
            self.wake.set()

    async def _submit(
        self, _id: int, link: str | None, phone: str, text: str, source: str, *_: Any
    ) -> Outcome:
        client = self.clients.get(link or "")
        if client is None:
            return Outcome(False, error=f"no carrier link named {link!r}", failure="refused")
        return await client.submit(OutMessage(phone, text, source=source))
