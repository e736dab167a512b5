"""Role home pages that serve the role (issue 23): an agent sees their queue, their day and
what is about to breach; a supervisor the queues, the agents' states and the alerts; admins,
analysts and tellers their own places to go. The four counters stay for everyone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.conversations.models import Message
from kefu.routing.models import RoutingEvent, RoutingTask
from kefu.vocabulary import Direction
from kefu.web.deps import Principal
from kefu.web.i18n import N_
from kefu.workspace import formatting

# (permission, path, label) — the places each role goes from home, shown when allowed.
LINKS = [
    (Permission.CONVERSATIONS_HANDLE, "/workspace/inbox", N_("Inbox")),
    (Permission.QUEUES_SUPERVISE, "/supervisor/queues", N_("Queues and agents")),
    (Permission.ROUTING_MANAGE, "/routing/workflow", N_("Routing workflow")),
    (Permission.KNOWLEDGE_READ, "/knowledge", N_("Knowledge base")),
    (Permission.REPORTS_READ, "/reports", N_("Reports")),
    (Permission.CRISIS_DESK, "/social/crisis", N_("Crisis desk")),
    (Permission.BRANCH_COUNTER, "/branch/counter", N_("Counter")),
    (Permission.USERS_MANAGE, "/admin/users", N_("Users")),
    (Permission.AUDIT_READ, "/api/v1/audit", N_("Audit log")),
]


def local_midnight(now: datetime) -> datetime:
    """Today's start in the bank's time zone, as UTC."""
    local = now.astimezone(formatting.zone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def links(principal: Principal) -> list[tuple[str, str]]:
    return [(path, label) for permission, path, label in LINKS if _can(principal, permission)]


def _can(principal: Principal, permission: Any) -> bool:
    try:
        return principal.can(permission)
    except Exception:  # noqa: BLE001 - a permission another engineer renamed: just no link
        return False


async def agent_day(db: AsyncSession, agent_id: int, now: datetime) -> dict[str, Any]:
    """Today's figures for one agent: replies, conversations taken and closed, mean first
    response of the conversations they answered first today."""
    start = local_midnight(now)
    replies = await db.scalar(
        select(func.count()).select_from(Message).where(
            Message.sender_agent_id == agent_id, Message.direction == Direction.OUTBOUND.value,
            Message.created_at >= start,
        )
    )  # fmt: skip
    kinds = dict(
        (
            await db.execute(
                select(RoutingEvent.kind, func.count())
                .where(RoutingEvent.agent_id == agent_id, RoutingEvent.at >= start,
                       RoutingEvent.kind.in_(("accepted", "claimed", "closed", "transferred")))
                .group_by(RoutingEvent.kind)
            )
        ).all()
    )  # fmt: skip
    answered = (
        await db.execute(
            select(RoutingTask.enqueued_at, RoutingTask.first_response_at).where(
                RoutingTask.agent_id == agent_id, RoutingTask.first_response_at >= start
            )
        )
    ).all()
    waits = [
        (formatting._as_datetime(f) - formatting._as_datetime(e)).total_seconds()  # type: ignore[operator]
        for e, f in answered
        if e is not None and f is not None
    ]
    return {
        "replies": replies or 0,
        "taken": kinds.get("accepted", 0) + kinds.get("claimed", 0),
        "closed": kinds.get("closed", 0),
        "first_response": sum(waits) / len(waits) if waits else None,
    }


async def agent_home(db: AsyncSession, principal: Principal, now: datetime) -> dict[str, Any]:
    from kefu.workspace.inbox import build_inbox

    inbox = await build_inbox(db, principal)
    at_risk = [
        i for i in (*inbox.offers, *inbox.mine, *inbox.queue) if i.sla in ("warning", "breached")
    ]
    at_risk.sort(key=lambda i: i.sla_left if i.sla_left is not None else 0)
    return {"inbox": inbox, "day": await agent_day(db, principal.id, now), "at_risk": at_risk[:10]}


async def supervisor_home(db: AsyncSession) -> dict[str, Any]:
    from kefu.routing.views import supervisor_snapshot

    snapshot = await supervisor_snapshot(db)
    states: dict[str, int] = {}
    for agent in snapshot["agents"]:
        states[agent["presence"] or "offline"] = states.get(agent["presence"] or "offline", 0) + 1
    return {**snapshot, "states": states}
