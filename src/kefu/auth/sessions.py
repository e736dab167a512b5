"""Server-side staff sessions (issue 21, finding 5).

The signed session cookie carries a random token; only its SHA-256 is stored, with the agent,
when it started, when it was last used, and whether it was revoked. A session ends at logout,
when an administrator revokes it, after ``session_idle_seconds`` without a request, and
``session_max_age`` after login, whichever comes first: a cookie copied before logout is
worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.models import AuthSession
from kefu.db.base import utcnow

# last_seen_at is written at most this often: a write per request would serialise them all.
TOUCH_PRECISION = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(
    db: AsyncSession,
    *,
    agent_id: int,
    max_age: int,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> str:
    """Records a new session; returns the token to put in the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.add(
        AuthSession(
            token_hash=_digest(token),
            agent_id=agent_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=max_age),
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    await db.flush()
    return token


async def check(
    db: AsyncSession, token: str | None, *, agent_id: int, idle_seconds: int,
    now: datetime | None = None,
) -> bool:  # fmt: skip
    """Whether ``token`` is a live session of ``agent_id``; refreshes its idle clock."""
    if not token:
        return False
    now = now or utcnow()
    row = await db.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is None or row.agent_id != agent_id or row.revoked_at is not None:
        return False
    if now >= row.expires_at or now - row.last_seen_at > timedelta(seconds=idle_seconds):
        row.revoked_at = now
        return False
    if now - row.last_seen_at > TOUCH_PRECISION:
        row.last_seen_at = now
    return True


async def end(db: AsyncSession, token: str | None, *, now: datetime | None = None) -> None:
    if token:
        await db.execute(
            update(AuthSession)
            .where(AuthSession.token_hash == _digest(token), AuthSession.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        )


async def end_all(db: AsyncSession, agent_id: int, *, now: datetime | None = None) -> int:
    """Revokes every live session of an agent (an administrator's action); returns how many."""
    result = await db.execute(
        update(AuthSession)
        .where(AuthSession.agent_id == agent_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount or 0
