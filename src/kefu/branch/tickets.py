"""A remote ticket for a customer who is not at the branch (SMS ``PD 1`` through the
assistant): take it, or find the one they already hold today, and say how many are ahead and
how long the wait should be. The pages (map, WeChat H5) take theirs inline; this is the same
sequence for callers that have no page: ``queue.take_ticket`` then ``remote.dispatch`` (a VTM
that is free calls at once)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch import queue, remote, waits
from kefu.branch.models import BranchTicket
from kefu.db.base import utcnow


@dataclass(frozen=True)
class RemoteTicket:
    ticket: BranchTicket
    ahead: int  # waiting tickets of the same service called before this one
    wait_seconds: float | None  # predicted; None when nobody serves the service now
    existing: bool  # the customer's open ticket from before, not a new one


async def ticket_wait(
    db: AsyncSession, ticket: BranchTicket, ahead: int, now: datetime | None = None
) -> float | None:
    """The predicted wait of a waiting ticket with ``ahead`` before it (model, else rule)."""
    now = now or utcnow()
    q = (await queue.service_queues(db, ticket.branch_code, now))[ticket.service]
    if q.counters == 0:
        return None
    # The ticket is already waiting, so the branch's count includes it; the model was trained
    # on the queue as each customer found it on arrival (themself not counted).
    state = dataclasses.replace(waits.state_of(q, now, ticket.priority), ahead=ahead,
                                waiting=max(q.branch_waiting - 1, 0))  # fmt: skip
    return waits.predicted_seconds(state)


async def take_remote(
    db: AsyncSession,
    *,
    branch_code: str,
    service_code: str,
    source: str,
    customer_key: str,
    notify_ahead: int | None = 3,
    now: datetime | None = None,
) -> RemoteTicket:
    """A new ticket, or the customer's open one of today (``existing``) — never a second.
    Other refusals (closed branch or service, unknown service) raise ``queue.QueueError`` /
    ``ValueError`` as ``take_ticket`` does, having changed nothing."""
    now = now or utcnow()
    try:
        async with db.begin_nested():
            ticket = await queue.take_ticket(
                db, branch_code=branch_code, service_code=service_code, source=source,
                customer_key=customer_key, notify_ahead=notify_ahead, now=now,
            )  # fmt: skip
    except queue.QueueError as exc:
        if exc.code != "duplicate":
            raise
        held = await queue.open_ticket_of(db, customer_key, queue.business_day(now))
        if held is None:  # finished between the refusal and this read: just refuse
            raise
        ahead = await queue.ahead_of(db, held)
        wait = await ticket_wait(db, held, ahead, now) if held.state == "waiting" else None
        return RemoteTicket(held, ahead, wait, existing=True)
    ahead = await queue.ahead_of(db, ticket)
    ticket.predicted_wait = await ticket_wait(db, ticket, ahead, now)
    if await remote.dispatch(db, branch_code, now):  # a free VTM may have called it at once
        await db.refresh(ticket)
        ahead = await queue.ahead_of(db, ticket)
    return RemoteTicket(ticket, ahead, ticket.predicted_wait, existing=False)
