"""The SMS gateway: keeps carrier links bound and runs the three parts of the channel on
them: texts in (``inbound.py``: stored, deduplicated, answered through the message
pipeline), the outbox (``outbox.py``) and status reports (``reports.py``).

Delivery semantics:
- An inbound message is stored, deduplicated on the carrier's delivery identity, before the
  carrier is told it arrived (the acknowledgement waits for the commit), so a crash before the
  commit leaves it with the carrier, which delivers it again. It is marked ``answered`` in the
  transaction that queues its replies; one stored but unanswered (a crash in between, or an
  error) is answered by the next start or by the periodic sweep.
- A status report is acknowledged to the carrier only once recorded, or kept in
  ``sms_kept_reports`` when no message takes it yet (after REPORT_WAIT): never dropped.
- An outbound message is stored (state ``accepted``) before anyone is told it was accepted,
  and an idempotency key returns the original row instead of a second message.
- The sender claims a few windows' worth of rows per link at once (``sending``,
  stamped with this process's id, under a lease) and records the carrier's answers, many
  rows per transaction: ``sent`` with its ids; ``failed`` when the carrier refused it; back
  to ``accepted`` when no part reached the wire (the link was down: resending cannot
  duplicate it); ``unknown`` when a part was written and no answer came, because the carrier
  may have it.
- Each window of claimed rows is marked (``submitted_at``, one UPDATE for every link ready,
  committed) before its PDUs are written to the socket. A row whose sender died (its process
  is gone, or its heartbeat is DEAD_AFTER old; or, as a backstop, its lease ran out) without
  the mark provably never left: it goes back to ``accepted`` at once. One with the mark is
  ``unknown`` as well: the carrier redelivers the reports the dead process never
  acknowledged, and they settle it.
- An ``unknown`` row is settled by the carrier's status report, matched by the handset (and
  saying so) when the carrier id was never recorded; one with no report within its link's
  report wait is sent again and marked ``possibly_duplicated`` (at-least-once, said aloud).
  The wait runs from when the row became ``unknown``, across restarts; the gateway that sends
  it again must have had its link bound REPORTS_AFTER_BIND (the carrier's held reports) and
  have looked at every report received before the wait ran out.
- ``stop()`` stops claiming, puts claimed rows not yet marked back to ``accepted``, lets the
  marked ones finish and records them: a restart by signal loses nothing and sends nothing
  twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.sms.callbacks import StatusCallbacks
from kefu.channels.sms.config import SmsLink, SmsRoute
from kefu.channels.sms.inbound import TextsIn, settle
from kefu.channels.sms.links import make_client
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.outbox import OutboundSms, Outbox
from kefu.channels.sms.reports import REPORT_WAIT, Reports
from kefu.channels.sms.senders import HEARTBEAT, Senders
from kefu.db.base import utcnow
from kefu.logs import get_logger
from kefu.messaging.pipeline import Pipeline
from kefu.protocols.client import CarrierClient
from kefu.protocols.message import Inbound

__all__ = ["OutboundSms", "SmsGateway"]

log = get_logger(__name__)

SWEEP_EVERY = 5.0  # seconds between sweeps for expired leases, unknown rows, unanswered MOs
PRUNE_EVERY = 3600.0  # seconds between deletions of old kept reports
STOP_WAIT = 30.0  # seconds stop() lets the batch in flight finish
RELAY_EVERY = 0.2  # seconds between looks for agents' replies to send (a query each)


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
        kept_reports_days: float = 7.0,
    ) -> None:
        self.links = {link.name: link for link in links}
        self.sessionmaker = sessionmaker
        self.pipeline = pipeline  # None: an outbox only (it never receives)
        self.signature = signature
        self.routes = {r.sub_code: r for r in routes}
        self.clients: dict[str, CarrierClient] = {}
        self.callbacks = StatusCallbacks()
        self.outbox = Outbox(
            sessionmaker=sessionmaker, links=self.links, clients=self.clients,
            callbacks=self.callbacks, signature=signature,
            lease=timedelta(seconds=lease_seconds),
            unknown_resend_after=timedelta(seconds=unknown_resend_after),
        )  # fmt: skip
        self.reports = Reports(sessionmaker=sessionmaker, callbacks=self.callbacks)
        self.senders = Senders(sessionmaker)
        self.texts = TextsIn(
            sessionmaker=sessionmaker, pipeline=pipeline, links=self.links, routes=self.routes,
            callbacks=self.callbacks, outbox=self.outbox, clock=clock,
        )  # fmt: skip
        self._next_sweep = 0.0
        self.keep_reports = timedelta(days=kept_reports_days)
        self._next_prune = 0.0
        self._sender: asyncio.Task[None] | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._heart: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    @property
    def clock(self) -> Any:
        """What an id-less MO's re-delivery window is measured by (tests set it)."""
        return self.texts.clock

    @clock.setter
    def clock(self, value: Any) -> None:
        self.texts.clock = value

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self.senders.register()
        self.outbox.sender = self.senders.me
        self.reports.sender = self.senders.me
        self._heart = asyncio.create_task(self._heartbeat(), name="sms-heartbeat")
        await self._recover()
        for name, config in self.links.items():
            client = make_client(config, on_inbound=lambda item, n=name: self._on_inbound(n, item))
            self.clients[name] = client
            await client.start(wait=False)
        self._sender = asyncio.create_task(self._send_loop(), name="sms-sender")
        self._reporter = asyncio.create_task(self.reports.run(), name="sms-reports")

    async def stop(self) -> None:
        """Stop claiming, let the batch in flight finish and be recorded, then unbind.
        Reports not yet recorded stay unacknowledged: the carrier delivers them again."""
        self._stopping = True
        self.outbox.stopping = True  # claimed rows not yet marked go back to the queue
        self.reports.stop()
        self.outbox.wake.set()
        if self._sender is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._sender), STOP_WAIT)
            except TimeoutError:
                log.warning("sms_stop_batch_unfinished")  # its rows' leases will expire
        stopped_cleanly = self._sender is None or self._sender.done()
        for loop_task in (self._sender, self._reporter, self._heart):
            if loop_task is not None and not loop_task.done():
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
        for client in self.clients.values():
            await client.close()
        if stopped_cleanly and self._heart is not None:
            with contextlib.suppress(Exception):  # left behind, it goes dead in DEAD_AFTER
                await self.senders.leave()  # nothing of ours is in flight any more

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
        # Interrupted rows first, then the reports kept for them, and only then the resends
        # of rows that still have none.
        await self.outbox.mark_interrupted(self.senders)
        await self.reports.settle_kept()
        await self.outbox.resend_unreported(self.reports.looked_at_until)
        await self.texts.answer_unanswered(now - timedelta(seconds=0 if force else 30))
        if now_mono >= self._next_prune:  # old kept reports: once an hour is plenty
            self._next_prune = now_mono + PRUNE_EVERY
            await self.reports.prune_kept(self.keep_reports)

    # ----------------------------------------------------------------- outbox
    async def enqueue(self, db: AsyncSession, **message: Any) -> SmsMessage:
        """Stores one outbound message in the caller's transaction (see Outbox.enqueue)."""
        return await self.outbox.enqueue(db, **message)

    async def enqueue_many(
        self, db: AsyncSession, items: Sequence[OutboundSms]
    ) -> list[SmsMessage]:
        return await self.outbox.enqueue_many(db, items)

    async def relay_conversation_replies(self) -> int:
        return await self.outbox.relay_conversation_replies()

    async def _heartbeat(self) -> None:
        """In a task of its own: a batch waiting on a slow link must not make this process
        look dead to the others."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.senders.beat()
            except Exception:  # noqa: BLE001 - the next beat may get through
                log.exception("sms_heartbeat_failed")

    async def _send_loop(self) -> None:
        next_relay = 0.0
        while not self._stopping:
            try:
                await self._sweep()
                if time.monotonic() >= next_relay:  # agents' replies: a query, not per cycle
                    next_relay = time.monotonic() + RELAY_EVERY
                    await self.outbox.relay_conversation_replies()
                progressed = await self.outbox.send_batch()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad batch
                log.exception("sms_send_batch_failed")
                progressed = 0
            if not progressed:
                self.outbox.wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.outbox.wake.wait(), 1.0)

    # ----------------------------------------------------------------- from the links
    def _on_inbound(self, link: str, item: Inbound) -> asyncio.Future[Any]:
        """Returns what the link awaits before it acknowledges the item to the carrier."""
        if item.kind == "report":
            return self.reports.put(link, item)  # reports come by the thousand: one writer
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self.texts.receive_mo(link, item, stored))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: settle(stored, t))
        return stored

    async def receive_mo(
        self, link: str, item: Inbound, stored: asyncio.Future[None] | None = None
    ) -> SmsMessage | None:
        """Stores and answers one MO (see TextsIn.receive_mo)."""
        return await self.texts.receive_mo(link, item, stored)

    async def receive_report(self, link: str, item: Inbound, wait: float = REPORT_WAIT) -> bool:
        """Records one report now (see Reports.receive_report)."""
        return await self.reports.receive_report(link, item, wait)
