"""The demo's branch day: three branches of the synthetic bank (B001 overloaded, B002 busy,
B003 quiet) with counters open and a simulated morning replayed up to the lunch peak, shifted
to today, so the map shows red, yellow and green and the counter page has tickets to call.
Runs once: a branch that already has counters is left as it is."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent, AgentSkill, Skill
from kefu.bank.synthetic.checksums import gb11643_check_digit
from kefu.branch import remote, tickets
from kefu.branch.appointments import book
from kefu.branch.forms.crypto import FormCipher
from kefu.branch.forms.service import fill
from kefu.branch.models import BranchCounter, BranchTicket
from kefu.branch.queue import LOCAL_ZONE, business_day
from kefu.branch.services import PRIORITIES, SERVICES
from kefu.branch.simulator import BranchPlan, default_profiles, simulate_day
from kefu.config import get_settings
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.privacy import mask_phone

SIM_NOW = 12.25 * 3600  # the replay stops at 12:15, the lunch peak
KIND_OF = {v: k for k, v in reversed(PRIORITIES.items())}  # 1 → elderly, 3 → vip


def demo_plans() -> list[BranchPlan]:
    return [
        BranchPlan("B001", default_profiles(4), base_per_hour=38),
        BranchPlan("B002", default_profiles(5), base_per_hour=27),
        BranchPlan("B003", default_profiles(5), base_per_hour=15),
    ]


async def seed_branch_day(db: AsyncSession, *, now: datetime | None = None, seed: int = 17) -> int:
    """Counters and tickets for the demo branches; returns the tickets written."""
    now = now or utcnow()
    plans = [p for p in demo_plans() if not await db.scalar(
        select(func.count()).where(BranchCounter.branch_code == p.code))]  # fmt: skip
    if not plans:
        return 0
    local = now.astimezone(LOCAL_ZONE)
    midnight = datetime.combine(local.date(), time(0), LOCAL_ZONE)
    # Simulated 12:15 is now: every simulated moment keeps its distance from it.
    shift = (local - midnight).total_seconds() - SIM_NOW
    customers = simulate_day(plans, seed=seed, weekday=local.weekday())
    day = business_day(now)
    counters: dict[str, list[int]] = {}
    for plan in plans:
        for i, profile in enumerate(plan.counters):
            row = BranchCounter(branch_code=plan.code, number=i + 1, services=profile,
                                kind="teller", state="open", teller=f"柜员{i + 1}", updated_at=now)  # fmt: skip
            db.add(row)
            await db.flush()
            counters.setdefault(plan.code, []).append(row.id)
    numbers: dict[tuple[str, str], int] = {}
    rows = []
    for c in sorted(customers, key=lambda c: c.arrival):
        if c.arrival > SIM_NOW:
            break
        key = (c.branch, c.service)
        numbers[key] = numbers.get(key, 0) + 1
        at = midnight + timedelta(seconds=c.arrival + shift)
        state, called, finished, counter = "waiting", None, None, None
        if c.start is not None and c.start <= SIM_NOW:
            # Those at a counter at 12:15 are written as served by then: the counters start
            # the demo free for a teller to call the next ticket.
            state = "done"
            called = midnight + timedelta(seconds=c.start + shift)
            finished = midnight + timedelta(seconds=min(c.start + c.duration, SIM_NOW) + shift)
            counter = counters[c.branch][numbers[key] % len(counters[c.branch])]
        rows.append({
            "branch_code": c.branch, "day": day, "service": c.service,
            "label": f"{SERVICES[c.service].letter}{numbers[key]:03d}", "priority": c.priority,
            "priority_kind": KIND_OF.get(c.priority, "normal"), "source": "kiosk",
            "state": state, "counter_id": counter, "recalls": 0, "issued_at": at,
            "called_at": called, "finished_at": finished,
        })  # fmt: skip
    if rows:
        await db.execute(insert(BranchTicket), rows)
    return len(rows)


DEMO_ID = "11010519800101001"  # + its GB 11643 check digit: a made-up resident of 北京东城


async def seed_forms_and_appointments(
    db: AsyncSession, cipher: FormCipher, *, ttl_hours: int, capacity: int,
    now: datetime | None = None,
) -> str:  # fmt: skip
    """A pre-filled account-opening form tied to the first waiting 开户 ticket at B001 (the
    teller retrieves it with the ID number printed here) and three bookings tomorrow."""
    now = now or utcnow()
    ticket = await db.scalar(
        select(BranchTicket)
        .where(BranchTicket.branch_code == "B001", BranchTicket.service == "account",
               BranchTicket.state == "waiting", BranchTicket.day == business_day(now))
        .order_by(BranchTicket.issued_at)
        .limit(1)
    )  # fmt: skip
    said = []
    if ticket is not None:
        id_number = DEMO_ID + gb11643_check_digit(DEMO_ID)
        raw = {"name": "王小明", "id_number": id_number, "mobile": "13900139000",
               "account_type": "savings", "address": "北京市东城区东长安街1号"}  # fmt: skip
        form, _ = await fill(db, cipher, kind="account_opening", raw=raw, branch_code="B001",
                             ticket_label=ticket.label, ttl_hours=ttl_hours, now=now)  # fmt: skip
        said.append(f"form {form.reference} on ticket B001/{ticket.label} (ID {id_number})")
    tomorrow = (now.astimezone(LOCAL_ZONE).date() + timedelta(days=1)).isoformat()
    for i, start in enumerate(("10:00", "10:00", "14:30")):
        await book(db, branch_code="B001", service_code="wealth", day=tomorrow, start=start,
                   phone=f"1390013900{i + 1}", capacity=capacity, now=now)  # fmt: skip
    said.append(f"3 appointments at B001 on {tomorrow}")
    return "; ".join(said)


SMS_PHONE = "13900139010"  # a made-up customer who texted "PD 北京" then "PD 1"


async def seed_sms_ticket(db: AsyncSession, *, now: datetime | None = None) -> str:
    """A ticket taken by SMS ``PD 1`` at B001 (the same service the assistant calls), with
    "tell me when 3 ahead" by SMS: the teller page and the map count it like any other."""
    got = await tickets.take_remote(db, branch_code="B001", service_code="cash", source="sms",
                                    customer_key=f"phone:{SMS_PHONE}", now=now)  # fmt: skip
    return f"SMS ticket B001/{got.ticket.label} for {mask_phone(SMS_PHONE)} ({got.ahead} ahead)"


REMOTE_AGENT = "agent3"  # the demo's remote teller (储蓄理财组)
VTM_NUMBER = 9


async def seed_remote_teller(db: AsyncSession, *, now: datetime | None = None) -> str:
    """A VTM at B001 (cash and card), routing's remote-teller queue, and the skill for the
    demo's agent3: when agent3 is online the machine's customer is offered to them."""
    counter = BranchCounter(branch_code="B001", number=VTM_NUMBER, services=["cash", "card"],
                            kind="vtm", state="open", updated_at=now or utcnow())  # fmt: skip
    db.add(counter)
    await remote.ensure_routing(db, actor="demo")
    agent_id = await db.scalar(select(Agent.id).where(Agent.username == REMOTE_AGENT))
    if agent_id is not None:
        skill = await db.scalar(select(Skill).where(Skill.name == remote.SKILL))
        if skill is None:
            skill = Skill(name=remote.SKILL, label="远程柜员")
            db.add(skill)
            await db.flush()
        db.add(AgentSkill(agent_id=agent_id, skill_id=skill.id, proficiency=4))
    handed = await remote.dispatch(db, "B001", now)
    tickets = ", ".join(t.label for t in handed) or "none"
    return f"VTM {VTM_NUMBER} at B001 served by {REMOTE_AGENT} (remote teller), ticket {tickets}"


async def ensure_branch_demo(database_url: str) -> str:
    engine = make_engine(database_url)
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            written = await seed_branch_day(db)
            extra = ""
            if written:  # the first start only, with the app's own form key
                settings = get_settings()
                cipher = FormCipher.from_settings(settings.branch, settings.secret_key)
                extra = "; " + await seed_forms_and_appointments(
                    db, cipher, ttl_hours=settings.branch.form_ttl_hours,
                    capacity=settings.branch.appointment_slot_capacity,
                )  # fmt: skip
                extra += "; " + await seed_sms_ticket(db)
                extra += "; " + await seed_remote_teller(db)
    finally:
        await engine.dispose()
    return f"branch demo: {written} tickets of today's simulated morning (B001 B002 B003){extra}"
