"""Tickets and counters: priorities, work profiles, refusals, and "call next" racing from
many counters on separate connections (as many app processes would) never taking one ticket
twice — on SQLite and, when KEFU_TEST_DATABASE_URL is set, PostgreSQL. Then predicted waits on
live queues, SMS PD's answer and the demo day. One module: one migrated database per backend
(``queue_db_url``) serves them all."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.assistant import render
from kefu.bank.models import Branch
from kefu.branch import queue
from kefu.branch.demo import seed_branch_day
from kefu.branch.models import BranchTicket
from kefu.branch.waits import branch_waits, distance_km, nearest_waits
from kefu.db.engine import make_engine, make_sessionmaker
from tests.branch.conftest import NOW

pytestmark = pytest.mark.db


async def open_counter(db: AsyncSession, number: int, services: list[str], code: str = "SZ001"):  # type: ignore[no-untyped-def]
    counter = await queue.add_counter(db, branch_code=code, number=number, services=services)
    await queue.set_counter_state(db, counter_id=counter.id, state="open", teller=f"t{number}")
    return counter


async def test_profile_order_then_priority_then_arrival(session: AsyncSession) -> None:
    counter = await open_counter(session, 1, ["card", "cash"])
    take = queue.take_ticket
    a1 = await take(session, branch_code="SZ001", service_code="cash", now=NOW)
    a2 = await take(session, branch_code="SZ001", service_code="cash", priority_kind="vip",
                    now=NOW + timedelta(minutes=1))  # fmt: skip
    b1 = await take(
        session, branch_code="SZ001", service_code="card", now=NOW + timedelta(minutes=2)
    )
    assert (a1.label, a2.label, b1.label) == ("A001", "A002", "B001")
    order = []
    for i in range(4):
        ticket = await queue.call_next(
            session, counter_id=counter.id, now=NOW + timedelta(minutes=5 + i)
        )
        order.append(ticket.label if ticket else None)
    assert order == ["B001", "A002", "A001", None]  # card first (profile), then the VIP
    done = await session.scalar(select(BranchTicket).where(BranchTicket.label == "A002"))
    assert done.state == "done" and done.finished_at is not None


async def test_refusals_closed_service_paused_counter_duplicate_remote(
    session: AsyncSession,
) -> None:
    with pytest.raises(queue.QueueError) as closed:
        await queue.take_ticket(session, branch_code="SZ001", service_code="cash", now=NOW)
    assert closed.value.code == "closed"
    counter = await open_counter(session, 1, ["cash"])
    with pytest.raises(queue.QueueError) as wealth:
        await queue.take_ticket(session, branch_code="SZ001", service_code="wealth", now=NOW)
    assert wealth.value.code == "closed"
    first = await queue.take_ticket(session, branch_code="SZ001", service_code="cash", source="web",
                                    customer_key="phone:13800138000", now=NOW)  # fmt: skip
    with pytest.raises(queue.QueueError) as twice:
        await queue.take_ticket(session, branch_code="SZ002", service_code="cash", source="sms",
                                customer_key="phone:13800138000", now=NOW)  # fmt: skip
    assert twice.value.code == "duplicate" and first.label in twice.value.message
    with pytest.raises(ValueError):
        await queue.take_ticket(session, branch_code="SZ001", service_code="loans", now=NOW)
    await queue.set_counter_state(session, counter_id=counter.id, state="paused")
    with pytest.raises(queue.QueueError) as paused:
        await queue.call_next(session, counter_id=counter.id, now=NOW)
    assert paused.value.code == "paused"
    still = await session.get(BranchTicket, first.id)
    assert still.state == "waiting"  # the refusal lost nothing


async def test_recall_no_show_transfer_park_resume(session: AsyncSession) -> None:
    cash = await open_counter(session, 1, ["cash"])
    card = await open_counter(session, 2, ["card"])
    for _ in range(3):
        await queue.take_ticket(session, branch_code="SZ001", service_code="cash", now=NOW)
    first = await queue.call_next(session, counter_id=cash.id, now=NOW)
    again = await queue.recall(session, counter_id=cash.id, now=NOW + timedelta(seconds=30))
    assert again.id == first.id and again.recalls == 1
    gone = await queue.no_show(session, counter_id=cash.id)
    assert gone.state == "no_show"
    second = await queue.call_next(session, counter_id=cash.id, now=NOW)
    moved = await queue.transfer(session, counter_id=cash.id, service_code="card")
    assert moved.id == second.id and moved.state == "waiting" and moved.service == "card"
    at_card = await queue.call_next(session, counter_id=card.id, now=NOW)
    assert at_card.id == second.id  # the transferred customer keeps their place
    third = await queue.call_next(session, counter_id=cash.id, now=NOW)
    parked = await queue.park(session, counter_id=cash.id)
    assert parked.id == third.id and parked.state == "parked"
    with pytest.raises(queue.QueueError):
        await queue.resume(session, counter_id=card.id, ticket_id=third.id)  # not its ticket
    back = await queue.resume(session, counter_id=cash.id, ticket_id=third.id)
    assert back.state == "called" and back.counter_id == cash.id


async def test_notify_when_three_ahead_once(session: AsyncSession) -> None:
    counter = await open_counter(session, 1, ["cash"])
    for i in range(5):
        await queue.take_ticket(session, branch_code="SZ001", service_code="cash",
                                now=NOW + timedelta(seconds=i))  # fmt: skip
    mine = await queue.take_ticket(session, branch_code="SZ001", service_code="cash", source="web",
                                   customer_key="phone:1", notify_ahead=3,
                                   now=NOW + timedelta(seconds=9))  # fmt: skip
    assert await queue.due_notices(session, "SZ001") == []  # five ahead
    await queue.call_next(session, counter_id=counter.id, now=NOW)
    await queue.call_next(session, counter_id=counter.id, now=NOW)
    due = await queue.due_notices(session, "SZ001")
    assert [(t.id, n) for t, n in due] == [(mine.id, 3)]
    assert await queue.due_notices(session, "SZ001") == []  # told once


async def _counter_worker(url: str, counter_id: int) -> list[int]:
    engine = make_engine(url)
    claimed: list[int] = []
    try:
        factory = make_sessionmaker(engine)
        while True:
            try:
                async with factory() as db, db.begin():
                    ticket = await queue.call_next(db, counter_id=counter_id, now=NOW)
            except OperationalError:  # SQLite under contention: "database is locked"; again
                await asyncio.sleep(0.01)
                continue
            if ticket is None:
                return claimed
            claimed.append(ticket.id)
    finally:
        await engine.dispose()


async def test_concurrent_call_next_never_takes_one_ticket_twice(empty_queues: str) -> None:
    db_url = empty_queues
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            counters = [await open_counter(db, i + 1, ["cash", "card"]) for i in range(4)]
            for i in range(48):
                await queue.take_ticket(db, branch_code="SZ001",
                                        service_code="cash" if i % 3 else "card", now=NOW)  # fmt: skip
            ids = [c.id for c in counters]
    finally:
        await engine.dispose()
    results = await asyncio.gather(*(_counter_worker(db_url, cid) for cid in ids))
    claimed = [t for r in results for t in r]
    assert len(claimed) == len(set(claimed)) == 48
    assert sum(1 for r in results if r) >= 2  # the counters really raced


# --- predicted waits and PD -------------------------------------------------------------


def branch(code: str, city: str, lat: float, lon: float) -> Branch:
    return Branch(code=code, name=f"{city}{code}网点", city=city, address="路1号", latitude=lat,
                  longitude=lon, counters=3, opening_hours="周一至周五 9:00-17:00")  # fmt: skip


def test_distance() -> None:
    assert distance_km(22.54, 114.06, 22.54, 114.06) == 0
    assert 100 < distance_km(22.54, 114.06, 23.13, 113.26) < 110  # 深圳 to 广州


async def test_pd_names_the_nearest_branches_with_their_waits(session: AsyncSession) -> None:
    branches = [branch("GZ1", "广州", 23.13, 113.26), branch("SZ1", "深圳", 22.54, 114.06),
                branch("BJ1", "北京", 39.90, 116.40)]  # fmt: skip
    counter = await queue.add_counter(session, branch_code="SZ1", number=1, services=["cash"])
    await queue.set_counter_state(session, counter_id=counter.id, state="open")
    for i in range(8):
        await queue.take_ticket(session, branch_code="SZ1", service_code="cash",
                                now=NOW - timedelta(minutes=20 - i))  # fmt: skip
    waits = await nearest_waits(session, branches, "深圳", limit=2, now=NOW)
    assert [w.branch.code for w in waits] == ["SZ1", "GZ1"]
    assert waits[0].waiting == 8 and waits[0].wait_seconds and waits[0].wait_seconds > 600
    assert waits[1].band == "closed"
    text = render.branches("深圳", waits)
    assert "排队8人" in text and "广州GZ1网点暂停取号" in text and "即将开通" not in text
    assert await nearest_waits(session, branches, "拉萨") == []
    assert render.branches("拉萨", []) == "拉萨暂无本行网点。"


# --- the demo day ------------------------------------------------------------------------


async def test_demo_day_shows_red_yellow_green(session: AsyncSession) -> None:
    written = await seed_branch_day(session, now=NOW)
    assert written > 200
    assert await seed_branch_day(session, now=NOW) == 0  # once
    waiting = await session.scalar(select(func.count()).where(BranchTicket.state == "waiting"))
    assert waiting and waiting > 10
    branches = [Branch(code=c, name=c, city="深圳", address="", latitude=22.5, longitude=114.0,
                       counters=4, opening_hours="9:00-17:00") for c in ("B001", "B002", "B003")]  # fmt: skip
    waits = await branch_waits(session, branches, "cash", now=NOW)
    assert [w.band for w in waits] == ["red", "yellow", "green"]
