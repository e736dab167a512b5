"""Agent states (Genesys-style): ready, not ready with a reason (休息, 培训, 话后处理), busy,
offline — and presence that ends by itself.

Stored in ``agents.presence`` (``online`` = ready, ``away`` = not ready, ``busy``, ``offline``)
with ``presence_reason`` for not ready. Workspace pages send a heartbeat every
``presence_heartbeat_seconds``; the routing ticker sets anyone silent for twice that long
offline (closing the browser ends presence), logging out ends it at once. Only roles that
handle conversations (agent, supervisor) are counted as agents online.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.vocabulary import Presence, Role
from kefu.web.i18n import N_

HANDLING_ROLES = (Role.AGENT.value, Role.SUPERVISOR.value)
PRESENT = (Presence.ONLINE.value, Presence.BUSY.value, Presence.AWAY.value)
# Why an agent is not ready; the codes are stored, the labels shown.
REASONS = {
    "break": N_("Break"),
    "training": N_("Training"),
    "after_call_work": N_("After-call work"),
}
STATE_LABELS = {
    Presence.ONLINE.value: N_("Ready"),
    Presence.AWAY.value: N_("Not ready"),
    Presence.BUSY.value: N_("Busy"),
    Presence.OFFLINE.value: N_("Offline"),
}


class PresenceError(ValueError):
    pass


async def set_state(
    session: AsyncSession,
    agent: Agent,
    presence: Presence,
    *,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Ready, not ready (with a reason: break, training, after_call_work), busy or offline."""
    if reason is not None and reason not in REASONS:
        raise PresenceError(f"reason: one of {sorted(REASONS)}")
    if presence == Presence.AWAY and reason is None:
        reason = "break"
    agent.presence = presence.value
    agent.presence_reason = reason if presence == Presence.AWAY else None
    agent.last_seen_at = now
    await session.flush()


async def heartbeat(session: AsyncSession, agent_id: int, *, now: datetime) -> str:
    """An open workspace page says the agent is still there; returns their presence."""
    agent = await session.get(Agent, agent_id)
    if agent is None:
        return Presence.OFFLINE.value
    agent.last_seen_at = now
    await session.flush()
    return agent.presence


async def expire_silent(session: AsyncSession, *, now: datetime, heartbeat_seconds: int) -> int:
    """Everyone present but silent for two heartbeats goes offline (their browser is closed or
    their machine asleep). An agent who never sent one counts from their login."""
    cutoff = now - timedelta(seconds=2 * heartbeat_seconds)
    seen = func.coalesce(Agent.last_seen_at, Agent.last_login_at)
    result = await session.execute(
        update(Agent)
        .where(Agent.presence.in_(PRESENT), or_(seen.is_(None), seen < cutoff))
        .values(presence=Presence.OFFLINE.value, presence_reason=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def agents_online(session: AsyncSession) -> int:
    """在线坐席: agents and supervisors who are present (ready, busy or not ready)."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(Agent)
            .where(Agent.role.in_(HANDLING_ROLES), Agent.presence.in_(PRESENT), Agent.is_active)
        )
        or 0
    )
