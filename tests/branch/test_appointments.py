"""Appointments: booking a slot, a full slot and a second booking by one phone refused, cancel
frees the place, kiosk check-in (on time → appointment priority, late → ordinary, early →
refused), and customers racing for the last places on separate connections."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch import appointments, queue
from kefu.branch.models import BranchAppointment, BranchSlot
from kefu.branch.queue import QueueError
from kefu.db.engine import make_engine, make_sessionmaker
from tests.branch.conftest import NOW  # Monday 10:00 in Shanghai

pytestmark = pytest.mark.db
DAY = "2026-11-30"


async def _open(db: AsyncSession) -> None:
    counter = await queue.add_counter(db, branch_code="SZ001", number=1, services=["wealth"])
    await queue.set_counter_state(db, counter_id=counter.id, state="open", teller="t1")


def book(db: AsyncSession, phone: str, start: str = "11:00", **kw):  # type: ignore[no-untyped-def]
    return appointments.book(db, branch_code="SZ001", service_code="wealth", day=DAY,
                             start=start, phone=phone, capacity=kw.pop("capacity", 2), now=NOW, **kw)  # fmt: skip


async def test_book_full_double_cancel(session: AsyncSession) -> None:
    first = await book(session, "13800000001")
    assert first.state == "booked" and len(first.code) == 6
    await book(session, "13800000002")
    with pytest.raises(QueueError) as full:
        await book(session, "13800000003")
    assert full.value.code == "full" and "已满" in full.value.message
    with pytest.raises(QueueError) as twice:
        await book(session, "13800000001", start="14:00")
    assert twice.value.code == "duplicate" and first.code in twice.value.message
    with pytest.raises(QueueError) as past:
        await book(session, "13800000004", start="09:30")  # before 10:00 now
    assert past.value.code == "bad_slot"
    with pytest.raises(QueueError):
        await book(session, "13800000004", start="11:15")  # not a slot
    await appointments.cancel(session, code=first.code.lower(), phone="13800000001")
    with pytest.raises(QueueError):  # a cancelled booking cannot be cancelled again
        await appointments.cancel(session, code=first.code, phone="13800000001")
    await book(session, "13800000003")  # the freed place
    left = dict(await appointments.slots(session, "SZ001", "wealth", DAY, 2))
    assert left["11:00"] == 0 and left["14:00"] == 2


async def test_check_in_on_time_late_and_early(session: AsyncSession) -> None:
    await _open(session)
    await book(session, "13800000001", start="10:30")
    await book(session, "13800000002", start="10:30")
    await book(session, "13800000003", start="11:00")
    at = NOW + timedelta(minutes=20)  # 10:20
    ticket, on_time = await appointments.check_in(session, branch_code="SZ001",
                                                  phone="13800000001", now=at)  # fmt: skip
    assert on_time and ticket.priority_kind == "appointment" and ticket.service == "wealth"
    with pytest.raises(QueueError) as early:
        await appointments.check_in(session, branch_code="SZ001", phone="13800000003", now=at)
    assert early.value.code == "early"
    late_ticket, late_on_time = await appointments.check_in(
        session, branch_code="SZ001", phone="13800000002", now=NOW + timedelta(minutes=50)
    )
    assert not late_on_time and late_ticket.priority_kind == "normal"
    with pytest.raises(QueueError) as none:
        await appointments.check_in(session, branch_code="SZ001", phone="13900000000", now=at)
    assert none.value.code == "no_appointment"


async def _try_book(url: str, phone: str) -> str:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            try:
                await book(db, phone)
            except QueueError as exc:
                return exc.code
        return "booked"
    finally:
        await engine.dispose()


async def test_racing_customers_never_overbook(empty_queues: str) -> None:
    phones = [f"1380000{i:04d}" for i in range(8)] + ["13800000000"] * 2  # one phone thrice
    results = await asyncio.gather(*(_try_book(empty_queues, p) for p in phones))
    assert results.count("booked") == 2 and set(results) <= {"booked", "full", "duplicate"}
    engine = make_engine(empty_queues)
    try:
        async with make_sessionmaker(engine)() as db:
            assert await db.scalar(select(BranchSlot.booked)) == 2
            booked = list(await db.scalars(select(BranchAppointment.customer_key)))
            assert len(booked) == len(set(booked)) == 2
    finally:
        await engine.dispose()


async def test_demo_has_a_form_on_a_waiting_ticket_and_bookings(session: AsyncSession) -> None:
    from kefu.branch.demo import seed_branch_day, seed_forms_and_appointments
    from kefu.branch.forms.crypto import FormCipher, new_key
    from kefu.branch.forms.service import retrieve
    from kefu.branch.models import BranchForm, BranchTicket

    cipher = FormCipher([new_key().encode()])
    assert await seed_branch_day(session, now=NOW) > 0
    said = await seed_forms_and_appointments(session, cipher, ttl_hours=72, capacity=2, now=NOW)
    form = await session.scalar(select(BranchForm))
    ticket = await session.get(BranchTicket, form.ticket_id)
    assert ticket.state == "waiting" and ticket.service == "account" and ticket.label in said
    id_number = said.split("(ID ")[1][:18]
    opened = await retrieve(session, cipher, branch_code="B001", ticket_label=ticket.label,
                            id_number=id_number, teller="t", max_tries=5, now=NOW)  # fmt: skip
    assert opened.values["name"] == "王小明"
    assert len(list(await session.scalars(select(BranchAppointment)))) == 3


async def test_a_branch_sets_its_own_places_per_slot(session: AsyncSession) -> None:
    db = session
    await _open(db)
    assert await appointments.slot_capacity(db, "SZ001", 2) == 2  # the setting
    await book(db, "13800000001")
    await book(db, "13800000002")  # the 11:00 slot is now full at 2 places
    await appointments.set_slot_capacity(db, branch_code="SZ001", capacity=3, now=NOW)
    assert await appointments.slot_capacity(db, "SZ001", 2) == 3
    assert await appointments.slot_capacity(db, "SZ002", 2) == 2  # other branches keep it
    capacity = await appointments.slot_capacity(db, "SZ001", 2)
    await book(db, "13800000003", capacity=capacity)  # the made slot grew to 3
    await book(db, "13800000004", start="14:00", capacity=capacity)
    slots = dict(await appointments.slots(db, "SZ001", "wealth", DAY, capacity))
    assert slots["11:00"] == 0 and slots["14:00"] == 2 and slots["15:00"] == 3
    # Lowered below what a slot has booked: it keeps its bookings and takes no more.
    await appointments.set_slot_capacity(db, branch_code="SZ001", capacity=1, now=NOW)
    full = await db.scalar(select(BranchSlot).where(BranchSlot.start == "11:00"))
    assert (full.capacity, full.booked) == (3, 3)
    with pytest.raises(QueueError) as refused:
        await book(db, "13800000005", start="14:00", capacity=1)
    assert refused.value.code == "full"
    with pytest.raises(QueueError):
        await appointments.set_slot_capacity(db, branch_code="SZ001", capacity=0, now=NOW)
