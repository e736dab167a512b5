"""The subscription scheduler: finds what is due from the bank port and queues the notices.

A run pages through the subscribers by customer id (keyset paging: never more than one page
in memory), asks the bank port in three batch look-ups per page what they are owed — a
statement just issued, a due date N days away, account movements of at least their amount —
and queues an SMS per notice.

Once only: every notice has a key (customer, service, channel, period) stored in
``subscription_notices`` under a unique constraint, inserted with ON CONFLICT DO NOTHING in the
same transaction as the outbox row. A re-run, a restart mid-run or a second scheduler process
running at the same moment inserts nothing for a key already taken (PostgreSQL makes the
second insert wait for the first transaction, SQLite has one writer), so nothing goes twice.
The outbox's own idempotency key (``sub:<key>``) is a second guard.

The business day is China's: a run covers ``today`` and catches up ``catch_up_days`` before
it, so a scheduler that was down overnight still sends yesterday's bill notice, but a new
subscriber is not told about last month.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.assistant import render
from kefu.bank.port import MAX_BATCH, BankError, BankPort
from kefu.channels.sms.gateway import OutboundSms
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.identity.models import ChannelIdentity, Customer
from kefu.logs import get_logger
from kefu.subscriptions.models import Subscription, SubscriptionNotice, SubscriptionRun
from kefu.subscriptions.service import DAYS_BEFORE_MAX, Service
from kefu.vocabulary import Channel, IdentityKind

log = get_logger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 500  # subscribers per page: one transaction, three bank look-ups


class Outbox(Protocol):
    """What the scheduler needs of the SMS gateway (its outbox)."""

    async def enqueue_many(self, db: AsyncSession, items: Sequence[OutboundSms]) -> list[Any]: ...


class WechatNotifier(Protocol):
    """The WeChat channel's template sender (kefu.channels.wechat.outbound.Outbound)."""

    accounts: Mapping[str, Any]

    async def notify(
        self, account_name: str, *, customer_id: int, kind: str, data: Mapping[str, str],
        url: str | None = None, idempotency_key: str | None = None,
    ) -> list[int]: ...  # fmt: skip


# The WeChat channel's template kinds for our services.
WECHAT_TEMPLATE = {
    Service.BILL_READY: "bill_ready",
    Service.REPAYMENT_REMINDER: "repayment_reminder",
    Service.BALANCE_ALERT: "card_transaction",
}


def china_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(CHINA).date()


def reminder_day(due: date, days_before: int) -> date:
    """The day a repayment reminder goes: plain calendar arithmetic, so a due date of
    1 March with 3 days is 26 February (27th in a leap year)."""
    return due - timedelta(days=days_before)


def notice_key(customer_id: int, service: str, channel: str, subject: str) -> str:
    raw = f"{customer_id}|{service}|{channel}|{subject}"
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Due:
    """One notice owed to one customer."""

    customer_id: int
    service: Service
    channel: str
    subject: str  # exact: card or account number and period, only hashed into the key
    period: str  # readable, numbers masked
    text: str

    @property
    def key(self) -> str:
        return notice_key(self.customer_id, self.service.value, self.channel, self.subject)


@dataclass
class RunResult:
    run_id: int
    today: date
    customers: int = 0
    queued: int = 0
    already_sent: int = 0
    unbound: int = 0
    errors: int = 0
    by_service: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Sub:
    service: Service
    days_before: int | None
    threshold_fen: int | None


@dataclass(frozen=True)
class _Subscriber:
    customer_id: int
    customer_no: str
    phone: str | None
    subscriptions: tuple[_Sub, ...]


def _local(moment: datetime) -> datetime:
    """Bank timestamps without a zone are China time (the synthetic bank's and the contract's
    convention); aware ones are converted."""
    return moment.replace(tzinfo=CHINA) if moment.tzinfo is None else moment.astimezone(CHINA)


class SubscriptionScheduler:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        bank: BankPort,
        outbox: Outbox,
        catch_up_days: int = 2,
        page_size: int = PAGE_SIZE,
        wechat: WechatNotifier | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.bank = bank
        self.outbox = outbox
        self.wechat = wechat
        self.catch_up_days = catch_up_days
        self.page_size = min(page_size, MAX_BATCH)
        # Set to end a run after its current page (shutdown); the next run picks up the rest.
        self.stopping = asyncio.Event()

    # ------------------------------------------------------------------ a run
    async def run_once(self, today: date) -> RunResult:
        async with self.sessionmaker() as db:
            run = SubscriptionRun(today=today, state="running", customers=0, queued=0,
                                  already_sent=0, unbound=0, errors=0, by_service={})  # fmt: skip
            db.add(run)
            await db.commit()
            result = RunResult(run.id, today)
        state = "done"
        try:
            channels = [Channel.SMS.value] + ([Channel.WECHAT.value] if self.wechat else [])
            for channel in channels:
                after = 0
                while True:
                    if self.stopping.is_set():
                        state = "interrupted"
                        break
                    page = await self._page(after, channel)
                    if not page:
                        break
                    after = page[-1].customer_id
                    dues = await self._dues_of_page(page, today, result, channel)
                    if channel == Channel.SMS.value:
                        await self._queue(dues, result)
                    else:
                        await self._queue_wechat(dues, result)
        except Exception as exc:
            await self._finish(result, "failed", f"{type(exc).__name__}: {exc}"[:200])
            raise
        await self._finish(result, state)
        log.info("subscriptions_run", run=result.run_id, today=today.isoformat(),
                 customers=result.customers, queued=result.queued,
                 already_sent=result.already_sent, errors=result.errors)  # fmt: skip
        return result

    async def _finish(self, result: RunResult, state: str, error: str | None = None) -> None:
        async with self.sessionmaker() as db:
            await db.execute(
                update(SubscriptionRun)
                .where(SubscriptionRun.id == result.run_id)
                .values(state=state, finished_at=utcnow(), error=error, **_counts(result))
            )
            await db.commit()

    async def _page(self, after: int, channel: str = Channel.SMS.value) -> list[_Subscriber]:
        """The next page of ``channel``'s subscribers after customer id ``after``, with their
        subscriptions and the address bound last (phone, or openid for WeChat; None:
        unbound, they get nothing)."""
        identity = "phone" if channel == Channel.SMS.value else IdentityKind.WECHAT_OPENID.value
        async with self.sessionmaker() as db:
            ids = (
                await db.scalars(
                    select(Subscription.customer_id)
                    .where(Subscription.customer_id > after, Subscription.channel == channel)
                    .group_by(Subscription.customer_id)
                    .order_by(Subscription.customer_id)
                    .limit(self.page_size)
                )  # fmt: skip
            ).all()
            if not ids:
                return []
            subs: dict[int, list[_Sub]] = {i: [] for i in ids}
            # Plain rows, not ORM objects: building 1,500 instances a page was a quarter of
            # a run's time.
            for customer_id, service, days, threshold in await db.execute(
                select(Subscription.customer_id, Subscription.service, Subscription.days_before,
                       Subscription.threshold_fen)
                .where(Subscription.customer_id.in_(ids), Subscription.channel == channel)
            ):  # fmt: skip
                subs[customer_id].append(_Sub(Service(service), days, threshold))
            numbers = dict(
                (
                    await db.execute(
                        select(Customer.id, Customer.bank_customer_no).where(Customer.id.in_(ids))
                    )
                ).all()  # fmt: skip
            )
            phones: dict[int, str] = {}
            for customer_id, value in await db.execute(
                select(ChannelIdentity.customer_id, ChannelIdentity.value)
                .where(ChannelIdentity.customer_id.in_(ids), ChannelIdentity.kind == identity)
                .order_by(ChannelIdentity.bound_at, ChannelIdentity.id)
            ):
                phones[customer_id] = value  # the latest binding wins
        return [
            _Subscriber(i, numbers[i], phones.get(i), tuple(subs[i])) for i in ids if i in numbers
        ]

    async def _dues_of_page(
        self, page: list[_Subscriber], today: date, result: RunResult,
        channel: str = Channel.SMS.value,
    ) -> list[Due]:  # fmt: skip
        result.customers += len(page)
        bound = [s for s in page if s.phone is not None]
        result.unbound += len(page) - len(bound)
        try:
            return await self.dues_for(bound, today, channel)
        except BankError as exc:
            # This page waits for the next run (its keys are not taken); the others go on.
            result.errors += len(bound)
            log.warning("subscriptions_bank_error", customers=len(bound), error=str(exc)[:200])
            return []

    # ------------------------------------------------------------------ what is due
    async def dues_for(
        self, subscribers: Sequence[_Subscriber], today: date, channel: str = Channel.SMS.value
    ) -> list[Due]:
        """What a page of subscribers is owed today: three batch look-ups at the bank for the
        whole page (statements issued, statements falling due, movements), not one per
        customer, so a run costs the bank a few calls per page."""
        earliest = today - timedelta(days=self.catch_up_days)
        wants: dict[Service, dict[str, tuple[int, _Sub]]] = {s: {} for s in Service}
        for subscriber in subscribers:
            for sub in subscriber.subscriptions:
                wants[sub.service][subscriber.customer_no] = (subscriber.customer_id, sub)
        dues: list[Due] = []
        if bill := wants[Service.BILL_READY]:
            for st in await self.bank.list_statements(
                list(bill), date_field="statement_date", start=earliest, end=today
            ):
                customer_id, _ = bill[st.customer_no]
                dues.append(Due(customer_id, Service.BILL_READY, channel,
                                f"{st.card_no}:{st.period}", f"{st.period} *{st.card_no[-4:]}",
                                render.bill_ready_notice(st)))  # fmt: skip
        if repay := wants[Service.REPAYMENT_REMINDER]:
            # Due within the longest reminder anyone may choose; each customer's own N decides.
            for st in await self.bank.list_statements(
                list(repay), date_field="due_date", start=today,
                end=today + timedelta(days=DAYS_BEFORE_MAX),
            ):  # fmt: skip
                customer_id, sub = repay[st.customer_no]
                # From the reminder day up to the due date itself: a scheduler that was down
                # on the exact day still reminds while there is time to pay.
                if st.outstanding <= 0 or reminder_day(st.due_date, sub.days_before or 0) > today:
                    continue
                dues.append(Due(customer_id, Service.REPAYMENT_REMINDER, channel,
                                f"{st.card_no}:{st.period}", f"{st.period} *{st.card_no[-4:]}",
                                render.repayment_notice(st, (st.due_date - today).days)))  # fmt: skip
        if alerts := wants[Service.BALANCE_ALERT]:
            lowest = min(sub.threshold_fen or 0 for _, sub in alerts.values())
            for mv in await self.bank.list_movements(
                list(alerts), start=earliest, end=today, min_amount=Decimal(lowest) / 100
            ):
                customer_id, sub = alerts[mv.customer_no]
                if abs(mv.amount) * 100 < (sub.threshold_fen or 0):
                    continue
                at = _local(mv.posted_at)
                dues.append(Due(customer_id, Service.BALANCE_ALERT, channel,
                                f"{mv.account_no}:{at.isoformat()}:{mv.amount}:{mv.balance_after}",
                                f"{at.date().isoformat()} *{mv.account_no[-4:]}",
                                render.balance_notice(mv)))  # fmt: skip
        return dues

    # ------------------------------------------------------------------ queueing
    async def _queue(self, dues: list[Due], result: RunResult) -> None:
        phones, wanted = await self._still_wanted({d.customer_id for d in dues})
        dues = sorted(
            (d for d in dues if d.customer_id in phones and (d.customer_id, d.service) in wanted),
            key=lambda d: d.key,
        )
        # Deadlocks between two schedulers are avoided by the sorted keys; a serialisation
        # failure all the same is retried once (the retry inserts only what is still free).
        for attempt in (1, 2):
            try:
                await self._queue_once(dues, phones, result)
                return
            except DBAPIError:
                if attempt == 2:
                    raise
                log.warning("subscriptions_queue_retry", notices=len(dues))

    async def _still_wanted(
        self, customer_ids: set[int]
    ) -> tuple[dict[int, str], set[tuple[int, Service]]]:
        """Bound phones and subscriptions read again just before queueing (the bank was
        asked in between): a number unbound or a TD received since the page was read
        gets nothing."""
        if not customer_ids:
            return {}, set()
        async with self.sessionmaker() as db:
            rows = await db.execute(
                select(ChannelIdentity.customer_id, ChannelIdentity.value)
                .where(ChannelIdentity.customer_id.in_(customer_ids),
                       ChannelIdentity.kind == "phone")
                .order_by(ChannelIdentity.bound_at, ChannelIdentity.id)
            )  # fmt: skip
            phones = {customer_id: value for customer_id, value in rows}
            subs = await db.execute(
                select(Subscription.customer_id, Subscription.service).where(
                    Subscription.customer_id.in_(customer_ids),
                    Subscription.channel == Channel.SMS.value,
                )
            )
            return phones, {(c, Service(s)) for c, s in subs}

    async def _queue_once(self, dues: list[Due], phones: dict[int, str], result: RunResult) -> None:
        queued: dict[str, int] = {}
        already = 0
        async with self.sessionmaker() as db:
            for start in range(0, len(dues), 500):
                chunk = dues[start : start + 500]
                rows = [{"key": d.key, "customer_id": d.customer_id, "service": d.service.value,
                         "channel": d.channel, "period": d.period, "run_id": result.run_id,
                         "created_at": utcnow()} for d in chunk]  # fmt: skip
                # The first statement of the transaction is this write, so on SQLite it waits
                # for the lock instead of failing on a stale read snapshot.
                # One cached statement run for many rows (a multi-VALUES statement built per
                # chunk was compiled anew each time).
                inserted = await db.execute(
                    dialect_insert(db, SubscriptionNotice)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(SubscriptionNotice.id, SubscriptionNotice.key),
                    rows,
                )
                ids = dict((k, i) for i, k in inserted.all())
                fresh = [d for d in chunk if d.key in ids]
                already += len(chunk) - len(fresh)
                messages = await self.outbox.enqueue_many(
                    db,
                    [OutboundSms(to=phones[d.customer_id], text=d.text, kind="notification",
                                 idempotency_key=f"sub:{d.key}") for d in fresh],
                )  # fmt: skip
                if fresh:
                    await db.execute(
                        update(SubscriptionNotice),
                        [{"id": ids[d.key], "sms_message_id": m.id}
                         for d, m in zip(fresh, messages, strict=True)],
                    )  # fmt: skip
                for d in fresh:
                    queued[d.service.value] = queued.get(d.service.value, 0) + 1
            attempt = _copy(result)
            attempt.queued += sum(queued.values())
            attempt.already_sent += already
            for service, n in queued.items():
                attempt.by_service[service] = attempt.by_service.get(service, 0) + n
            await db.execute(
                update(SubscriptionRun)
                .where(SubscriptionRun.id == result.run_id)
                .values(**_counts(attempt))
            )
            await db.commit()
        # Counted only once committed, so a retried page is not counted twice.
        result.queued, result.already_sent = attempt.queued, attempt.already_sent
        result.by_service = attempt.by_service

    async def _queue_wechat(self, dues: list[Due], result: RunResult) -> None:
        """WeChat notices go out as template messages on every account the customer follows
        (the channel checks the subscription again and skips non-followers). Sent first, then
        recorded: the send is idempotent on the notice key, so a run that dies in between
        does not send twice; a notice is counted queued only when it reached someone."""
        assert self.wechat is not None
        reached: list[Due] = []
        for due in sorted(dues, key=lambda d: d.key):
            sent = []
            for account in self.wechat.accounts:
                sent += await self.wechat.notify(
                    account, customer_id=due.customer_id, kind=WECHAT_TEMPLATE[due.service],
                    data={"first": due.text, "keyword1": due.period, "remark": ""},
                    idempotency_key=f"sub:{due.key}",
                )  # fmt: skip
            if sent:
                reached.append(due)
        if not reached:
            return
        async with self.sessionmaker() as db:  # the page's notices and the run's counts at once
            inserted = await db.execute(
                dialect_insert(db, SubscriptionNotice)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(SubscriptionNotice.key),
                [{"key": d.key, "customer_id": d.customer_id, "service": d.service.value,
                  "channel": d.channel, "period": d.period, "run_id": result.run_id,
                  "created_at": utcnow()} for d in reached],
            )  # fmt: skip
            fresh = set(inserted.scalars().all())
            for due in reached:
                if due.key in fresh:
                    result.queued += 1
                    service = due.service.value
                    result.by_service[service] = result.by_service.get(service, 0) + 1
                else:
                    result.already_sent += 1
            await db.execute(
                update(SubscriptionRun)
                .where(SubscriptionRun.id == result.run_id)
                .values(**_counts(result))
            )
            await db.commit()

    # ------------------------------------------------------------------ the loop
    async def run_forever(
        self, *, interval: float, hours: tuple[int, int], now: Callable[[], datetime] = utcnow
    ) -> None:
        """A run every ``interval`` seconds while China time is within ``hours`` (start,
        end), so notices never wake a customer at night; returns once ``stopping`` is set."""
        stop = self.stopping
        while not stop.is_set():
            local = now().astimezone(CHINA)
            if hours[0] <= local.hour < hours[1]:
                try:
                    await self.run_once(local.date())
                except Exception:  # a run that failed is recorded; the next one tries again
                    log.exception("subscriptions_run_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


def _counts(result: RunResult) -> dict[str, Any]:
    return {"customers": result.customers, "queued": result.queued,
            "already_sent": result.already_sent, "unbound": result.unbound,
            "errors": result.errors,
            "by_service": dict(result.by_service)}  # fmt: skip


def _copy(result: RunResult) -> RunResult:
    return RunResult(result.run_id, result.today, result.customers, result.queued,
                     result.already_sent, result.unbound, result.errors,
                     dict(result.by_service))  # fmt: skip


# --- what the supervisor page shows -----------------------------------------------------


@dataclass(frozen=True)
class Overview:
    subscribers: dict[str, int]  # service -> customers subscribed (SMS)
    notices: dict[str, dict[str, int]]  # service -> sms state -> notices
    last_runs: list[SubscriptionRun]


async def overview(db: AsyncSession, *, runs: int = 10) -> Overview:
    from kefu.channels.sms.models import SmsMessage

    subscribers = dict(
        (
            await db.execute(
                select(Subscription.service, func.count()).group_by(Subscription.service)
            )
        ).all()  # fmt: skip
    )
    notices: dict[str, dict[str, int]] = {}
    for service, state, n in await db.execute(
        select(SubscriptionNotice.service, SmsMessage.state, func.count())
        .join(SmsMessage, SmsMessage.id == SubscriptionNotice.sms_message_id, isouter=True)
        .group_by(SubscriptionNotice.service, SmsMessage.state)
    ):
        notices.setdefault(service, {})[state or "unknown"] = n
    last = (
        await db.scalars(select(SubscriptionRun).order_by(SubscriptionRun.id.desc()).limit(runs))
    ).all()
    return Overview(subscribers, notices, list(last))


def utc_of_china(day: date, hour: int = 12) -> datetime:
    """Noon (or ``hour``) of a China business day as an aware UTC datetime (tests, CLI)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA).astimezone(UTC)


# --- running it inside a process --------------------------------------------------------


class BackgroundScheduler:
    """The scheduler's loop as a task of the web process (``kefu serve``, ``kefu demo``)."""

    def __init__(self, scheduler: SubscriptionScheduler, *, interval: float,
                 hours: tuple[int, int]) -> None:  # fmt: skip
        self.scheduler = scheduler
        self._task = asyncio.create_task(
            scheduler.run_forever(interval=interval, hours=hours), name="subscription-scheduler"
        )

    async def stop(self) -> None:
        """Ends the loop after the page in hand (its notices are committed or not at all)."""
        self.scheduler.stopping.set()
        await self._task


def start_in_background(
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    outbox: Outbox | None,
    wechat: WechatNotifier | None = None,
) -> BackgroundScheduler | None:
    """Started by the app's lifespan when enabled and a carrier link exists to send with;
    with the WeChat channel running, WeChat subscribers get template messages too."""
    if not settings.subscriptions_scheduler or outbox is None:
        return None
    scheduler = SubscriptionScheduler(sessionmaker=sessionmaker, bank=bank, outbox=outbox,
                                      catch_up_days=settings.subscriptions_catch_up_days,
                                      wechat=wechat)  # fmt: skip
    return BackgroundScheduler(scheduler, interval=settings.subscriptions_interval,
                               hours=settings.subscriptions_hours)  # fmt: skip
