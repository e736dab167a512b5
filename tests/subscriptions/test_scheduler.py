"""The subscription scheduler against the synthetic bank and a real outbox."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from kefu.bank.port import BankError
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.identity.models import ChannelIdentity
from kefu.subscriptions.models import SubscriptionNotice, SubscriptionRun
from kefu.subscriptions.scheduler import SubscriptionScheduler, reminder_day, utc_of_china
from kefu.subscriptions.service import Service
from tests.conftest import AS_OF
from tests.subscriptions import subscription_fixtures as fixtures
from tests.subscriptions.subscription_fixtures import SIGNATURE

pytestmark = pytest.mark.db
bank_url, world = fixtures.bank_url, fixtures.world


@pytest.mark.parametrize(
    ("due", "days", "expected"),
    [
        ("2026-03-01", 3, "2026-02-26"),  # February has 28 days
        ("2028-03-01", 3, "2028-02-27"),  # a leap year
        ("2027-01-02", 5, "2026-12-28"),  # across the year end
        ("2026-05-31", 10, "2026-05-21"),
        ("2026-12-01", 1, "2026-11-30"),  # a 30-day month
    ],
)
def test_reminder_day_across_month_ends(due: str, days: int, expected: str) -> None:
    assert reminder_day(date.fromisoformat(due), days) == date.fromisoformat(expected)


async def test_repayment_reminder_on_the_last_day_of_the_previous_month(world) -> None:  # type: ignore[no-untyped-def]
    # A real bill due early in December; N = its day of month puts the reminder on 30 Nov.
    profile, card = await world.find(
        lambda c, d: d.outstanding > 0 and d.due_date.month == 12 and 1 <= d.due_date.day <= 10
    )
    due = await world.bank.get_repayment_due(card.card_no)
    days = due.due_date.day
    customer_id = await world.bind(profile)
    await world.subscribe(customer_id, Service.REPAYMENT_REMINDER, days_before=days)
    scheduler = world.scheduler()
    assert (await scheduler.run_once(date(2026, 11, 29))).queued == 0  # a day early
    result = await scheduler.run_once(date(2026, 11, 30))
    assert result.queued == 1 and result.by_service == {"repayment_reminder": 1}
    [sms] = await world.outbox(profile.mobile)
    assert sms.text.startswith(SIGNATURE) and sms.kind == "notification"
    assert f"尾号{card.card_no[-4:]}" in sms.text and f"{days}天后" in sms.text
    assert f"¥{due.outstanding:,.2f}" in sms.text and card.card_no not in sms.text
    # Later days up to the due date are catch-up days of the same reminder: no second one.
    for later in range(1, days + 1):
        assert (await scheduler.run_once(date(2026, 11, 30) + timedelta(days=later))).queued == 0
    assert len(await world.outbox(profile.mobile)) == 1


async def test_no_reminder_after_the_due_date_or_for_a_paid_bill(world) -> None:  # type: ignore[no-untyped-def]
    profile, card = await world.find(lambda c, d: d.outstanding > 0)
    due = await world.bank.get_repayment_due(card.card_no)
    paid_profile, _ = await world.find(lambda c, d: d.outstanding <= 0)
    for p in (profile, paid_profile):
        await world.subscribe(await world.bind(p), Service.REPAYMENT_REMINDER, days_before=3)
    scheduler = world.scheduler()
    assert (await scheduler.run_once(due.due_date + timedelta(days=1))).queued == 0
    await scheduler.run_once(due.due_date - timedelta(days=3))
    assert len(await world.outbox(profile.mobile)) == 1
    assert await world.outbox(paid_profile.mobile) == []


async def test_bill_ready_on_the_statement_day_and_catch_up_but_not_later(world) -> None:  # type: ignore[no-untyped-def]
    profile, card = await world.find(lambda c, d: True)
    period = (await world.bank.list_bill_periods(card.card_no))[0]
    bill = await world.bank.get_bill(card.card_no, period)
    await world.subscribe(await world.bind(profile), Service.BILL_READY)
    scheduler = world.scheduler(catch_up_days=2)
    assert (await scheduler.run_once(bill.statement_date - timedelta(days=1))).queued == 0
    assert (await scheduler.run_once(bill.statement_date + timedelta(days=3))).queued == 0
    assert (await scheduler.run_once(bill.statement_date + timedelta(days=2))).queued == 1
    [sms] = await world.outbox(profile.mobile)
    assert "账单已出" in sms.text and f"¥{bill.total:,.2f}" in sms.text


async def test_balance_alerts_above_the_threshold_only(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[0]
    accounts = await world.bank.list_accounts(profile.customer_no)
    txs = [t for a in accounts for t in await world.bank.list_transactions(a.account_no, 100)]
    today = max(t.posted_at for t in txs).date()
    window = [t for t in txs if today - timedelta(days=2) <= t.posted_at.date() <= today]
    threshold = sorted(abs(t.amount) for t in window)[len(window) // 2]
    expected = [t for t in window if abs(t.amount) >= threshold]
    await world.subscribe(await world.bind(profile), Service.BALANCE_ALERT, threshold=threshold)
    result = await world.scheduler().run_once(today)
    assert result.queued == len(expected) >= 1
    texts = [m.text for m in await world.outbox(profile.mobile)]
    for t in expected:
        assert any(f"¥{abs(t.amount):,.2f}" in text and f"¥{t.balance_after:,.2f}" in text
                   for text in texts)  # fmt: skip


async def _everyone_subscribed(world) -> int:  # type: ignore[no-untyped-def]
    for profile in world.profiles[:20]:
        customer_id = await world.bind(profile)
        await world.subscribe(customer_id, Service.BILL_READY)
        await world.subscribe(customer_id, Service.REPAYMENT_REMINDER, days_before=10)
        await world.subscribe(customer_id, Service.BALANCE_ALERT, threshold=Decimal("100"))
    return 20


async def test_a_second_run_sends_nothing_twice(world) -> None:  # type: ignore[no-untyped-def]
    await _everyone_subscribed(world)
    scheduler = world.scheduler(page_size=7)  # several pages
    first = await scheduler.run_once(AS_OF)
    assert first.customers == 20 and first.queued >= 5
    assert set(first.by_service) == {"bill_ready", "repayment_reminder", "balance_alert"}
    before = await world.count_outbox()
    second = await scheduler.run_once(AS_OF)
    assert second.queued == 0 and second.already_sent == first.queued
    assert await world.count_outbox() == before
    async with session_scope(world.factory) as db:
        runs = (await db.scalars(select(SubscriptionRun).order_by(SubscriptionRun.id))).all()
        assert [r.state for r in runs] == ["done", "done"]
        assert runs[0].queued == first.queued and runs[1].already_sent == first.queued
        assert runs[0].finished_at is not None


async def test_two_concurrent_schedulers_send_each_notice_once(world, bank_url: str) -> None:  # type: ignore[no-untyped-def]
    await _everyone_subscribed(world)
    # Two schedulers with engines (connection pools) of their own, as two processes have.
    engines = [make_engine(bank_url) for _ in range(2)]
    try:
        schedulers = [
            SubscriptionScheduler(
                sessionmaker=make_sessionmaker(e),
                bank=world.bank,
                outbox=world.gateway,
                page_size=5,
            )  # fmt: skip
            for e in engines
        ]
        results = await asyncio.gather(*(s.run_once(AS_OF) for s in schedulers))
    finally:
        for e in engines:
            await e.dispose()
    total = sum(r.queued for r in results)
    assert total == results[0].queued + results[0].already_sent >= 5
    assert sum(r.already_sent for r in results) == total  # each due notice taken once
    messages = await world.outbox()
    assert len(messages) == total
    assert len({(m.phone, m.text) for m in messages}) == total  # no text went twice
    async with session_scope(world.factory) as db:
        notices = (await db.scalars(select(SubscriptionNotice))).all()
    assert len(notices) == total and all(n.sms_message_id for n in notices)


async def test_unbound_and_unsubscribed_customers_get_nothing(world) -> None:  # type: ignore[no-untyped-def]
    bound, unbound, other = world.profiles[0], world.profiles[1], world.profiles[2]
    bound_id = await world.bind(bound)
    unbound_id = await world.bind(unbound)
    other_id = await world.bind(other)
    for customer_id in (bound_id, unbound_id):
        await world.subscribe(customer_id, Service.BALANCE_ALERT, threshold=Decimal("1"))
    async with session_scope(world.factory) as db:
        await db.execute(delete(ChannelIdentity).where(ChannelIdentity.customer_id == unbound_id))
    result = await world.scheduler().run_once(await world.latest_movement_day(bound))
    assert result.unbound == 1 and result.customers == 2
    assert await world.outbox(bound.mobile)
    assert await world.outbox(unbound.mobile) == []
    assert await world.outbox(other.mobile) == []  # bound, never subscribed
    assert other_id


class _FlakyBank:
    """The synthetic bank, failing for one customer (their system timed out)."""

    def __init__(self, bank, broken: str) -> None:  # type: ignore[no-untyped-def]
        self._bank, self._broken = bank, broken

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._bank, name)

    async def list_movements(self, customer_nos, **kwargs):  # type: ignore[no-untyped-def]
        if self._broken in customer_nos:
            raise BankError("timed out")
        return await self._bank.list_movements(customer_nos, **kwargs)


async def test_a_bank_error_for_one_customer_does_not_stop_the_others(world) -> None:  # type: ignore[no-untyped-def]
    broken, fine = world.profiles[0], world.profiles[1]
    for p in (broken, fine):
        await world.subscribe(await world.bind(p), Service.BALANCE_ALERT, threshold=Decimal("1"))
    # One customer a page: the page the bank failed for waits for the next run, alone.
    scheduler = SubscriptionScheduler(sessionmaker=world.factory, outbox=world.gateway,
                                      bank=_FlakyBank(world.bank, broken.customer_no),
                                      page_size=1)  # fmt: skip
    result = await scheduler.run_once(await world.latest_movement_day(fine))
    assert result.errors == 1
    assert await world.outbox(fine.mobile) and await world.outbox(broken.mobile) == []


async def test_the_loop_runs_only_in_sending_hours(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[0]
    await world.subscribe(await world.bind(profile), Service.BALANCE_ALERT, threshold=Decimal("1"))
    scheduler = world.scheduler()
    for hour, runs in ((23, 0), (10, 1)):
        scheduler.stopping.clear()
        moment = utc_of_china(await world.latest_movement_day(profile), hour)
        loop = asyncio.create_task(
            scheduler.run_forever(interval=3600, hours=(8, 21), now=lambda m=moment: m)
        )

        async def ran(expected: int = runs) -> bool:
            async with session_scope(world.factory) as db:
                return len((await db.scalars(select(SubscriptionRun))).all()) >= expected

        for _ in range(200):
            if runs and await ran():
                break
            await asyncio.sleep(0.05)
        scheduler.stopping.set()
        await loop
        async with session_scope(world.factory) as db:
            assert len((await db.scalars(select(SubscriptionRun))).all()) == runs


class _TdWhileAsking:
    """The synthetic bank; while it is being asked, the customer texts TD (ends everything)."""

    def __init__(self, world, phone: str) -> None:  # type: ignore[no-untyped-def]
        self._world, self._phone = world, phone

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._world.bank, name)

    async def list_movements(self, customer_nos, **kwargs):  # type: ignore[no-untyped-def]
        found = await self._world.bank.list_movements(customer_nos, **kwargs)
        await self._world.phone_says(self._phone, "TD")
        return found


async def test_a_td_received_during_the_run_is_honoured(world) -> None:  # type: ignore[no-untyped-def]
    profile = world.profiles[0]
    await world.subscribe(await world.bind(profile), Service.BALANCE_ALERT, threshold=Decimal("1"))
    scheduler = SubscriptionScheduler(sessionmaker=world.factory, outbox=world.gateway,
                                      bank=_TdWhileAsking(world, profile.mobile))  # fmt: skip
    result = await scheduler.run_once(await world.latest_movement_day(profile))
    assert result.queued == 0
    assert [m.kind for m in await world.outbox(profile.mobile)] == []


async def test_a_stop_ends_the_run_between_pages_and_says_so(world) -> None:  # type: ignore[no-untyped-def]
    await _everyone_subscribed(world)
    scheduler = world.scheduler(page_size=5)
    scheduler.stopping.set()
    result = await scheduler.run_once(AS_OF)
    assert result.customers == 0
    async with session_scope(world.factory) as db:
        [run] = (await db.scalars(select(SubscriptionRun))).all()
    assert run.state == "interrupted" and run.finished_at is not None
