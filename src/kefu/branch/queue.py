"""Branch queues: take a ticket, call the next one, recall, no-show, transfer, park, and open,
pause or close a counter. Every state change happens here (the views, the demo and the
benchmarks call these functions), each in the caller's transaction.

Two counters pressing "call next" at once must never get the same ticket. The claim is one
guarded UPDATE (``… WHERE id = ? AND state = 'waiting'``): whoever updates no row lost the race
and tries the next candidate. On PostgreSQL the candidate is read ``FOR UPDATE SKIP LOCKED`` so
the loser skips a ticket being claimed instead of waiting for it; SQLite has one writer at a
time and ignores the lock clause, and the guard alone is enough there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch.models import COUNTER_KINDS, BranchCounter, BranchQueueSetting, BranchTicket
from kefu.branch.prediction.features import PACE_WINDOW
from kefu.branch.services import PRIORITIES, SERVICES, SOURCES, service
from kefu.db import mysql
from kefu.db.base import utcnow

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
OPEN_TICKET = ("waiting", "called", "parked")
DEFAULT_ALERT_SECONDS = 1200
CLAIM_ATTEMPTS = 20  # candidates tried before "call next" gives up on a busy moment
RECENT = 20  # service times averaged for E[S]


class QueueError(Exception):
    """A refusal with a reason a teller or customer can read (``code`` for programs)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def business_day(now: datetime) -> str:
    return now.astimezone(LOCAL_ZONE).date().isoformat()


async def write_lock_on_sqlite(db: AsyncSession) -> None:
    """On SQLite (WAL) a transaction that reads and then writes fails at once with "database
    is locked" when another connection committed in between (its read snapshot is stale; a
    background worker's write is enough). Taking the write lock first — a no-op UPDATE,
    before the transaction reads — makes it wait its turn instead. PostgreSQL: nothing."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("UPDATE branch_tickets SET id = id WHERE 1 = 0"))


async def _one_customer_at_a_time(db: AsyncSession, customer_key: str) -> None:
    """One customer's tickets are taken one at a time: two "PD 1" texts (or the map and an
    SMS) from one phone at once would both read "no open ticket" and both insert. On
    PostgreSQL a transaction-scoped advisory lock on the key makes the second wait for the
    first's commit, then read its ticket (READ COMMITTED: each statement sees the latest
    commit). A hash collision only makes two customers wait for each other briefly. SQLite
    has one writer at a time (``write_lock_on_sqlite``)."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"ticket:{customer_key}"}
        )
    elif db.get_bind().dialect.name == "mysql":
        await mysql.transaction_lock(db, f"ticket:{customer_key}")


async def _counter(db: AsyncSession, counter_id: int) -> BranchCounter:
    counter = await db.get(BranchCounter, counter_id)
    if counter is None:
        raise QueueError("no_counter", "没有这个窗口")
    return counter


async def _ticket(db: AsyncSession, ticket_id: int) -> BranchTicket:
    ticket = await db.get(BranchTicket, ticket_id)
    if ticket is None:
        raise QueueError("no_ticket", "没有这张号票")
    return ticket


# --- counters ----------------------------------------------------------------------------


async def add_counter(
    db: AsyncSession, *, branch_code: str, number: int, services: list[str], kind: str = "teller"
) -> BranchCounter:
    for code in services:
        service(code)  # unknown codes refused before anything is written
    if not services:
        raise QueueError("no_services", "窗口至少办理一项业务")
    if kind not in COUNTER_KINDS:
        raise QueueError("bad_kind", "窗口类型只能是柜员、VTM或混合柜台")
    counter = BranchCounter(branch_code=branch_code, number=number, services=list(services),
                            kind=kind, state="closed")  # fmt: skip
    db.add(counter)
    try:
        await db.flush()
    except IntegrityError:
        raise QueueError("duplicate_counter", f"{number}号窗口已存在") from None
    return counter


async def set_counter_state(
    db: AsyncSession, *, counter_id: int, state: str, teller: str | None = None
) -> BranchCounter:
    if state not in ("open", "paused", "closed"):
        raise QueueError("bad_state", "窗口状态只能是开放、暂停或关闭")
    counter = await _counter(db, counter_id)
    if state == "closed" and counter.current_ticket_id is not None:
        await _finish_current(db, counter, utcnow())
    counter.state = state
    if teller is not None or state == "closed":
        counter.teller = teller
    counter.updated_at = utcnow()
    await db.flush()
    return counter


async def set_profile(db: AsyncSession, *, counter_id: int, services: list[str]) -> BranchCounter:
    for code in services:
        service(code)
    if not services:
        raise QueueError("no_services", "窗口至少办理一项业务")
    counter = await _counter(db, counter_id)
    counter.services = list(dict.fromkeys(services))
    counter.updated_at = utcnow()
    await db.flush()
    return counter


# --- tickets -----------------------------------------------------------------------------


async def serving_counters(db: AsyncSession, branch_code: str, service_code: str) -> int:
    """Open counters whose work profile includes the service."""
    rows = await db.scalars(
        select(BranchCounter).where(
            BranchCounter.branch_code == branch_code, BranchCounter.state == "open"
        )
    )
    return sum(1 for c in rows if service_code in c.services)


async def _offered(db: AsyncSession, branch_code: str, service_code: str) -> bool:
    rows = await db.scalars(
        select(BranchCounter).where(
            BranchCounter.branch_code == branch_code, BranchCounter.state != "closed"
        )
    )
    return any(service_code in c.services for c in rows)


async def open_ticket_of(db: AsyncSession, customer_key: str, day: str) -> BranchTicket | None:
    return await db.scalar(
        select(BranchTicket).where(
            BranchTicket.customer_key == customer_key,
            BranchTicket.day == day,
            BranchTicket.state.in_(OPEN_TICKET),
        )
    )


async def take_ticket(
    db: AsyncSession,
    *,
    branch_code: str,
    service_code: str,
    priority_kind: str = "normal",
    source: str = "kiosk",
    customer_key: str | None = None,
    notify_ahead: int | None = None,
    predicted_wait: float | None = None,
    now: datetime | None = None,
) -> BranchTicket:
    """A new ticket, refused for a service no counter offers now (the branch is closed, or
    does not do it today) and for a customer who already holds an open ticket today."""
    now = now or utcnow()
    await write_lock_on_sqlite(db)
    svc = service(service_code)
    if priority_kind not in PRIORITIES:
        raise QueueError("bad_priority", f"未知的客户类别 {priority_kind}")
    if source not in SOURCES:
        raise QueueError("bad_source", f"未知的取号渠道 {source}")
    if notify_ahead is not None and not 1 <= notify_ahead <= 20:
        raise QueueError("bad_notify", "提醒人数应在1到20之间")
    day = business_day(now)
    if customer_key:
        await _one_customer_at_a_time(db, customer_key)
        held = await open_ticket_of(db, customer_key, day)
        if held is not None:
            raise QueueError("duplicate", f"您已有未办结的号票 {held.label}，请勿重复取号")
    if not await _offered(db, branch_code, service_code):
        raise QueueError("closed", f"该网点当前不办理{svc.label}（未营业或无此业务窗口）")
    for _ in range(5):  # two kiosks numbering at once: the unique label makes one retry
        issued = await db.scalar(
            select(func.count()).where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.day == day,
                BranchTicket.service == service_code,
            )
        )
        ticket = BranchTicket(
            branch_code=branch_code, day=day, service=service_code,
            label=f"{svc.letter}{(issued or 0) + 1:03d}", priority=PRIORITIES[priority_kind],
            priority_kind=priority_kind, source=source, customer_key=customer_key,
            notify_ahead=notify_ahead, state="waiting", recalls=0,
            predicted_wait=predicted_wait, issued_at=now,
        )  # fmt: skip
        try:
            async with db.begin_nested():
                db.add(ticket)
        except IntegrityError:
            continue
        return ticket
    raise QueueError("busy", "取号繁忙，请稍后再试")


async def _finish_current(db: AsyncSession, counter: BranchCounter, now: datetime) -> None:
    if counter.current_ticket_id is None:
        return
    await db.execute(
        update(BranchTicket)
        .where(BranchTicket.id == counter.current_ticket_id, BranchTicket.state == "called")
        .values(state="done", finished_at=now)
    )
    counter.current_ticket_id = None


async def call_next(
    db: AsyncSession, *, counter_id: int, now: datetime | None = None
) -> BranchTicket | None:
    """Finish the counter's current ticket and claim the next one its profile serves; None
    when nobody waits. A paused or closed counter is refused."""
    now = now or utcnow()
    counter = await db.get(BranchCounter, counter_id, with_for_update=True)
    if counter is None:
        raise QueueError("no_counter", "没有这个窗口")
    if counter.state != "open":
        word = "暂停中" if counter.state == "paused" else "未开放"
        raise QueueError(counter.state, f"{counter.number}号窗口{word}，不能叫号")
    await _finish_current(db, counter, now)
    day = business_day(now)
    # One query per service in the profile's order, each the head of that service's queue
    # (priority, then arrival) read from ix_branch_tickets_next: a walk of a few index
    # entries instead of sorting every waiting ticket of the counter's services by a CASE
    # rank on every call (177 ms p50 on PostgreSQL with 5,000 waiting; docs/branch.md).
    for code in dict.fromkeys(counter.services):
        head = (
            select(BranchTicket.id)
            .where(
                BranchTicket.branch_code == counter.branch_code,
                BranchTicket.day == day,
                BranchTicket.service == code,
                BranchTicket.state == "waiting",
            )
            .order_by(BranchTicket.priority.desc(), BranchTicket.issued_at, BranchTicket.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        tried: list[int] = []
        for _ in range(CLAIM_ATTEMPTS):
            query = head.where(BranchTicket.id.not_in(tried)) if tried else head
            ticket_id = await db.scalar(query)
            if ticket_id is None:
                break  # nobody (else) waits for this service: the profile's next one
            claimed = await db.execute(
                update(BranchTicket)
                .where(BranchTicket.id == ticket_id, BranchTicket.state == "waiting")
                .values(state="called", counter_id=counter.id, called_at=now)
            )
            if claimed.rowcount == 1:
                counter.current_ticket_id = ticket_id
                counter.updated_at = now
                await db.flush()
                ticket = await db.get(BranchTicket, ticket_id, populate_existing=True)
                assert ticket is not None
                return ticket
            tried.append(ticket_id)  # another counter took it between our read and our update
    counter.updated_at = now
    await db.flush()
    return None


async def _current(db: AsyncSession, counter_id: int) -> tuple[BranchCounter, BranchTicket]:
    counter = await _counter(db, counter_id)
    if counter.current_ticket_id is None:
        raise QueueError("no_current", f"{counter.number}号窗口当前没有号票")
    return counter, await _ticket(db, counter.current_ticket_id)


async def recall(db: AsyncSession, *, counter_id: int, now: datetime | None = None) -> BranchTicket:
    counter, ticket = await _current(db, counter_id)
    ticket.recalls += 1
    ticket.called_at = now or utcnow()  # the board shows it again
    counter.updated_at = ticket.called_at
    await db.flush()
    return ticket


async def no_show(
    db: AsyncSession, *, counter_id: int, now: datetime | None = None
) -> BranchTicket:
    counter, ticket = await _current(db, counter_id)
    ticket.state, ticket.finished_at = "no_show", now or utcnow()
    counter.current_ticket_id = None
    counter.updated_at = ticket.finished_at
    await db.flush()
    return ticket


async def transfer(
    db: AsyncSession, *, counter_id: int, service_code: str, now: datetime | None = None
) -> BranchTicket:
    """The current customer needs another service: back into that service's queue, keeping
    the time the ticket was taken (they have already waited) and their priority."""
    service(service_code)
    counter, ticket = await _current(db, counter_id)
    if not await _offered(db, counter.branch_code, service_code):
        raise QueueError("closed", f"本网点当前不办理{SERVICES[service_code].label}")
    ticket.service, ticket.state, ticket.counter_id = service_code, "waiting", None
    counter.current_ticket_id = None
    counter.updated_at = now or utcnow()
    await db.flush()
    return ticket


async def park(db: AsyncSession, *, counter_id: int, now: datetime | None = None) -> BranchTicket:
    """Set the current customer aside (fetching a document) so the counter can call the next;
    ``resume`` brings them back to this counter."""
    counter, ticket = await _current(db, counter_id)
    ticket.state, ticket.parked_by = "parked", counter.id
    counter.current_ticket_id = None
    counter.updated_at = now or utcnow()
    await db.flush()
    return ticket


async def resume(
    db: AsyncSession, *, counter_id: int, ticket_id: int, now: datetime | None = None
) -> BranchTicket:
    now = now or utcnow()
    counter = await _counter(db, counter_id)
    if counter.state != "open":
        raise QueueError(counter.state, f"{counter.number}号窗口未开放")
    ticket = await _ticket(db, ticket_id)
    if ticket.state != "parked" or ticket.parked_by != counter.id:
        raise QueueError("not_parked", f"{ticket.label} 不是本窗口暂挂的号票")
    await _finish_current(db, counter, now)
    ticket.state, ticket.counter_id, ticket.called_at = "called", counter.id, now
    counter.current_ticket_id, counter.updated_at = ticket.id, now
    await db.flush()
    return ticket


# --- reading the queues ------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceQueue:
    service: str
    waiting: int
    counters: int  # open counters serving it
    mean_service: float  # seconds, the day's recent service times (or the prior)
    oldest_wait: float  # seconds the longest-waiting ticket has waited
    last_wait: float | None  # the wait of the ticket called last (a good predictor)
    arrivals_30min: int  # tickets the whole branch issued in the last half hour
    # For the wait model (``waits.state_of``), as the call-centre log's features are made:
    by_priority: dict[int, int]  # this service's waiting tickets per priority
    branch_waiting: int  # every waiting ticket of the branch, all services
    served_10min: int  # tickets the whole branch finished in the last ten minutes


async def mean_service_seconds(
    db: AsyncSession, branch_code: str, service_code: str, day: str
) -> float:
    rows = (
        await db.execute(
            select(BranchTicket.called_at, BranchTicket.finished_at)
            .where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.service == service_code,
                BranchTicket.day == day,
                BranchTicket.state == "done",
            )
            .order_by(BranchTicket.finished_at.desc())
            .limit(RECENT)
        )
    ).all()
    spans = [(f - c).total_seconds() for c, f in rows if c and f and f > c]
    return sum(spans) / len(spans) if spans else SERVICES[service_code].mean_seconds


async def service_queues(
    db: AsyncSession, branch_code: str, now: datetime | None = None
) -> dict[str, ServiceQueue]:
    now = now or utcnow()
    day = business_day(now)
    counters = list(
        await db.scalars(
            select(BranchCounter).where(
                BranchCounter.branch_code == branch_code, BranchCounter.state == "open"
            )
        )
    )
    # One pass over the waiting tickets: how many per service and priority, and since when.
    rows = (
        await db.execute(
            select(
                BranchTicket.service,
                BranchTicket.priority,
                func.count(),
                func.min(BranchTicket.issued_at),
            )
            .where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.day == day,
                BranchTicket.state == "waiting",
            )
            .group_by(BranchTicket.service, BranchTicket.priority)
        )
    ).all()
    by_priority: dict[str, dict[int, int]] = {}
    oldest: dict[str, datetime] = {}
    for code, priority, count, first in rows:
        by_priority.setdefault(code, {})[int(priority)] = int(count)
        oldest[code] = min(oldest.get(code, first), first)
    waiting = {code: sum(counts.values()) for code, counts in by_priority.items()}
    # The pace: services ended in [now - 10 min, now), as the call-centre features count them.
    served_10min = int(
        await db.scalar(
            select(func.count()).where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.day == day,
                BranchTicket.state == "done",
                BranchTicket.finished_at >= now - timedelta(seconds=PACE_WINDOW),
                BranchTicket.finished_at < now,
            )
        )
        or 0
    )
    arrivals = int(
        await db.scalar(
            select(func.count()).where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.day == day,
                BranchTicket.issued_at >= now - timedelta(minutes=30),
                BranchTicket.issued_at <= now,
            )
        )
        or 0
    )
    result = {}
    for code in SERVICES:
        last = (
            await db.execute(
                select(BranchTicket.issued_at, BranchTicket.called_at)
                .where(
                    BranchTicket.branch_code == branch_code,
                    BranchTicket.day == day,
                    BranchTicket.service == code,
                    BranchTicket.called_at.is_not(None),
                )
                .order_by(BranchTicket.called_at.desc())
                .limit(1)
            )
        ).first()
        first_waiting = oldest.get(code)
        if first_waiting is not None and first_waiting.tzinfo is None:
            first_waiting = first_waiting.replace(tzinfo=now.tzinfo)
        result[code] = ServiceQueue(
            service=code,
            waiting=int(waiting.get(code, 0)),
            counters=sum(1 for c in counters if code in c.services),
            mean_service=await mean_service_seconds(db, branch_code, code, day),
            oldest_wait=(now - first_waiting).total_seconds() if first_waiting else 0.0,
            last_wait=(last[1] - last[0]).total_seconds() if last else None,
            arrivals_30min=arrivals,
            by_priority=by_priority.get(code, {}),
            branch_waiting=sum(waiting.values()),
            served_10min=served_10min,
        )
    return result


async def ahead_of(db: AsyncSession, ticket: BranchTicket) -> int:
    """Waiting tickets of the same service that will be called before this one."""
    if ticket.state != "waiting":
        return 0
    return int(
        await db.scalar(
            select(func.count()).where(
                BranchTicket.branch_code == ticket.branch_code,
                BranchTicket.day == ticket.day,
                BranchTicket.service == ticket.service,
                BranchTicket.state == "waiting",
                BranchTicket.id != ticket.id,
                or_(
                    BranchTicket.priority > ticket.priority,
                    and_(
                        BranchTicket.priority == ticket.priority,
                        BranchTicket.issued_at <= ticket.issued_at,
                    ),
                ),
            )
        )
        or 0
    )


async def due_notices(db: AsyncSession, branch_code: str) -> list[tuple[BranchTicket, int]]:
    """Tickets whose customer asked to be told when N are ahead and now are: marked notified
    here (once), sent by the caller."""
    rows = list(
        await db.scalars(
            select(BranchTicket).where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.state == "waiting",
                BranchTicket.notify_ahead.is_not(None),
                BranchTicket.notified_at.is_(None),
            )
        )
    )
    due = []
    for ticket in rows:
        ahead = await ahead_of(db, ticket)
        if ahead <= (ticket.notify_ahead or 0):
            ticket.notified_at = utcnow()
            due.append((ticket, ahead))
    await db.flush()
    return due


async def alert_seconds(db: AsyncSession, branch_code: str) -> int:
    row = await db.get(BranchQueueSetting, branch_code)
    return row.alert_wait_seconds if row else DEFAULT_ALERT_SECONDS


async def set_alert_seconds(db: AsyncSession, *, branch_code: str, seconds: int) -> None:
    if not 60 <= seconds <= 4 * 3600:
        raise QueueError("bad_threshold", "等候提醒阈值应在1到240分钟之间")
    row = await db.get(BranchQueueSetting, branch_code)
    if row is None:
        db.add(BranchQueueSetting(branch_code=branch_code, alert_wait_seconds=seconds))
    else:
        row.alert_wait_seconds = seconds
    await db.flush()


async def recently_called(
    db: AsyncSession, branch_code: str, *, limit: int = 8, now: datetime | None = None
) -> list[tuple[BranchTicket, int]]:
    """The display board: tickets called lately with their counter's number."""
    now = now or utcnow()
    rows = (
        await db.execute(
            select(BranchTicket, BranchCounter.number)
            .join(BranchCounter, BranchCounter.id == BranchTicket.counter_id)
            .where(
                BranchTicket.branch_code == branch_code,
                BranchTicket.day == business_day(now),
                BranchTicket.called_at.is_not(None),
                BranchTicket.called_at >= now - timedelta(hours=12),
            )
            .order_by(BranchTicket.called_at.desc())
            .limit(limit)
        )
    ).all()
    return [(t, n) for t, n in rows]


async def marker(db: AsyncSession, branch_code: str) -> list[str]:
    """Moves whenever anything on a branch's queue pages changes (for the SSE stream)."""
    row = (
        await db.execute(
            select(func.count(), func.max(BranchTicket.called_at), func.max(BranchTicket.id)).where(
                BranchTicket.branch_code == branch_code
            )
        )
    ).one()
    changed = await db.scalar(
        select(func.max(BranchCounter.updated_at)).where(BranchCounter.branch_code == branch_code)
    )
    waiting = await db.scalar(
        select(func.count()).where(
            BranchTicket.branch_code == branch_code, BranchTicket.state == "waiting"
        )
    )
    return [str(v) for v in (*row, changed, waiting)]
