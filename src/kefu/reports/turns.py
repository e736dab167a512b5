"""Self-service turns and the customer session each belongs to (containment per session,
docs/reports.md).

A session is one customer's turns on one channel with no more than ``SESSION_GAP`` (30
minutes, the usual idle limit of a chat session) between one and the next. The session a
turn joins is decided when it is recorded — the customer's previous turn within the gap
gives its ``session_at`` (when the session began), else the turn begins one — so the rollup
counts a session in the hour it began without reading turns outside that hour's sessions,
and a late turn re-rolls only its session's first hour.

The customer is kept as a hash of channel and address (16 hex digits): enough to tell
sessions apart, no phone number or OpenID stored in the KPI tables. It is pseudonymous, not
anonymous: a phone number's hash can be found by trying numbers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db.base import utcnow
from kefu.reports.models import SelfServiceTurn

SESSION_GAP = timedelta(minutes=30)


def customer_key(channel: str, address: str) -> str:
    """The customer of a turn: a hash of channel and address ('' when there is no address)."""
    if not address:
        return ""
    return hashlib.sha256(f"{channel}\x00{address}".encode()).hexdigest()[:16]


async def record_turn(
    db: AsyncSession,
    *,
    channel: str,
    address: str,
    intent: str,
    answered: bool,
    handed_off: bool,
    at: datetime | None = None,
) -> SelfServiceTurn:
    """Adds one turn to ``db`` (the caller commits) in the session it belongs to."""
    at = at or utcnow()
    customer = customer_key(channel, address)
    session_at = at
    if customer:
        previous = (
            await db.execute(
                select(SelfServiceTurn.at, SelfServiceTurn.session_at)
                .where(
                    SelfServiceTurn.customer == customer,
                    SelfServiceTurn.at <= at,
                    SelfServiceTurn.at >= at - SESSION_GAP,
                )
                .order_by(SelfServiceTurn.at.desc(), SelfServiceTurn.id.desc())
                .limit(1)
            )
        ).first()
        if previous is not None:
            session_at = previous.session_at or previous.at
    turn = SelfServiceTurn(at=at, channel=channel, intent=intent[:32], answered=answered,
                           customer=customer, session_at=session_at, handed_off=handed_off)  # fmt: skip
    db.add(turn)
    return turn
