"""Appointments with time slots: each branch's service has half-hour slots on business days, each
with a capacity; a customer books one by phone number (one live booking per number a day),
may cancel it, and checks in at the kiosk, which gives a ticket with appointment priority when
on time (from 15 minutes before the slot to 15 minutes after its start) and an ordinary one
when late.

A full slot and a second booking are refused by the database, not by a count read before the
write: the slot's ``booked`` rises by one guarded UPDATE, and the live booking per phone is a
unique key, so racing customers cannot overbook or double-book."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch import queue
from kefu.branch.models import BranchAppointment, BranchQueueSetting, BranchSlot, BranchTicket
from kefu.branch.queue import LOCAL_ZONE, QueueError
from kefu.branch.services import service
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert

SLOT_MINUTES = 30
FIRST_SLOT, LAST_SLOT = time(9, 0), time(16, 30)
CHECK_IN_EARLY = CHECK_IN_LATE = timedelta(minutes=15)
BOOK_DAYS_AHEAD = 7


def slot_starts() -> list[str]:
    starts, at = [], datetime.combine(datetime(2000, 1, 1).date(), FIRST_SLOT)
    while at.time() <= LAST_SLOT:
        starts.append(at.strftime("%H:%M"))
        at += timedelta(minutes=SLOT_MINUTES)
    return starts


def slot_moment(day: str, start: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{start}").replace(tzinfo=LOCAL_ZONE)


async def slot_capacity(db: AsyncSession, branch_code: str, default: int) -> int:
    """Places per slot at this branch: its own setting, else the default (the setting)."""
    own = await db.scalar(
        select(BranchQueueSetting.slot_capacity).where(
            BranchQueueSetting.branch_code == branch_code
        )
    )
    return own or default


async def set_slot_capacity(
    db: AsyncSession, *, branch_code: str, capacity: int, now: datetime | None = None
) -> None:
    """The branch's places per slot, for slots not yet made and for today's and later ones
    already made — never below what a slot has booked (those keep their bookings and take no
    more)."""
    if not 1 <= capacity <= 100:
        raise QueueError("bad_capacity", "每个时段的预约名额应在1到100之间")
    row = await db.get(BranchQueueSetting, branch_code)
    if row is None:
        db.add(BranchQueueSetting(branch_code=branch_code, slot_capacity=capacity))
    else:
        row.slot_capacity = capacity
    await db.execute(
        update(BranchSlot)
        .where(BranchSlot.branch_code == branch_code,
               BranchSlot.day >= queue.business_day(now or utcnow()))
        .values(capacity=case((BranchSlot.booked > capacity, BranchSlot.booked), else_=capacity))
    )  # fmt: skip
    await db.flush()


async def slots(
    db: AsyncSession, branch_code: str, service_code: str, day: str, capacity: int
) -> list[tuple[str, int]]:
    """(start, places left) of every slot that day."""
    rows = {
        r.start: r
        for r in await db.scalars(
            select(BranchSlot).where(
                BranchSlot.branch_code == branch_code,
                BranchSlot.service == service_code,
                BranchSlot.day == day,
            )
        )
    }
    return [
        (s, (rows[s].capacity - rows[s].booked) if s in rows else capacity) for s in slot_starts()
    ]


async def book(
    db: AsyncSession,
    *,
    branch_code: str,
    service_code: str,
    day: str,
    start: str,
    phone: str,
    capacity: int,
    source: str = "web",
    now: datetime | None = None,
) -> BranchAppointment:
    now = now or utcnow()
    svc = service(service_code)
    if start not in slot_starts():
        raise QueueError("bad_slot", "请选择列出的预约时段")
    try:
        moment = slot_moment(day, start)
    except ValueError:
        raise QueueError("bad_slot", "预约日期无效") from None
    if moment <= now or moment.date() > (now.astimezone(LOCAL_ZONE) + timedelta(days=BOOK_DAYS_AHEAD)).date():  # fmt: skip
        raise QueueError("bad_slot", f"只能预约今后{BOOK_DAYS_AHEAD}天内尚未开始的时段")
    key = f"phone:{phone}"
    held = await db.scalar(
        select(BranchAppointment).where(
            BranchAppointment.day == day, BranchAppointment.active_key == key
        )
    )
    if held is not None:
        raise QueueError(
            "duplicate", f"该手机号当天已有预约（{held.start}，预约码 {held.code}），请勿重复预约"
        )
    # The slot's row made when missing by an upsert, which locks it, not by an insert in a
    # savepoint: on InnoDB a duplicate insert leaves a shared lock that racing bookings then
    # all upgrade for the UPDATE below — a deadlock that rolls back the whole transaction
    # (MariaDB; PostgreSQL failed only the savepoint).
    add = dialect_insert(db, BranchSlot).values(
        branch_code=branch_code, service=service_code, day=day, start=start, capacity=capacity,
        booked=0,
    )  # fmt: skip
    await db.execute(
        add.on_conflict_do_update(
            index_elements=[
                BranchSlot.branch_code,
                BranchSlot.service,
                BranchSlot.day,
                BranchSlot.start,
            ],
            set_={"start": add.excluded.start},
        )  # fmt: skip
    )
    try:
        async with db.begin_nested():
            slot_id = await db.scalar(
                update(BranchSlot)
                .where(
                    BranchSlot.branch_code == branch_code, BranchSlot.service == service_code,
                    BranchSlot.day == day, BranchSlot.start == start,
                    BranchSlot.booked < BranchSlot.capacity,
                )
                .values(booked=BranchSlot.booked + 1)
                .returning(BranchSlot.id)
            )  # fmt: skip
            if slot_id is None:
                raise QueueError("full", f"{day} {start} 的{svc.label}预约已满，请选择其他时段")
            appointment = BranchAppointment(
                code=secrets.token_hex(3).upper(), slot_id=slot_id, branch_code=branch_code,
                service=service_code, day=day, start=start, customer_key=key, active_key=key,
                source=source, state="booked", created_at=now,
            )  # fmt: skip
            db.add(appointment)
    except IntegrityError:  # the same phone booking at the same moment elsewhere
        raise QueueError("duplicate", "该手机号当天已有预约，请勿重复预约") from None
    return appointment


async def _live(db: AsyncSession, code: str, phone: str) -> BranchAppointment:
    found = await db.scalar(
        select(BranchAppointment).where(
            BranchAppointment.code == code.strip().upper()[:8],
            BranchAppointment.customer_key == f"phone:{phone}",
        )
    )
    if found is None or found.state != "booked":
        raise QueueError("no_appointment", "没有找到该手机号的这个有效预约")
    return found


async def cancel(db: AsyncSession, *, code: str, phone: str) -> BranchAppointment:
    appointment = await _live(db, code, phone)
    await db.execute(
        update(BranchSlot)
        .where(BranchSlot.id == appointment.slot_id, BranchSlot.booked > 0)
        .values(booked=BranchSlot.booked - 1)
    )
    appointment.state, appointment.active_key = "cancelled", None
    await db.flush()
    return appointment


async def check_in(
    db: AsyncSession, *, branch_code: str, phone: str, now: datetime | None = None
) -> tuple[BranchTicket, bool]:
    """The ticket of today's booking at this branch; True when on time (appointment
    priority), False when late (an ordinary ticket). Too early is refused."""
    now = now or utcnow()
    day = queue.business_day(now)
    appointment = await db.scalar(
        select(BranchAppointment).where(
            BranchAppointment.day == day,
            BranchAppointment.active_key == f"phone:{phone}",
            BranchAppointment.branch_code == branch_code,
            BranchAppointment.state == "booked",
        )
    )
    if appointment is None:
        raise QueueError("no_appointment", "该手机号今天在本网点没有预约")
    moment = slot_moment(appointment.day, appointment.start)
    if now < moment - CHECK_IN_EARLY:
        raise QueueError("early", f"预约时段 {appointment.start}，请在开始前15分钟内签到")
    on_time = now <= moment + CHECK_IN_LATE
    ticket = await queue.take_ticket(
        db, branch_code=branch_code, service_code=appointment.service,
        priority_kind="appointment" if on_time else "normal", source="kiosk",
        customer_key=appointment.customer_key, now=now,
    )  # fmt: skip
    appointment.state, appointment.ticket_id = "checked_in", ticket.id
    await db.flush()
    return ticket, on_time
