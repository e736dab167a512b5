"""Every routing state change happens here: keyword-only functions taking the session.

Concurrency (several app processes on PostgreSQL): a waiting task is claimed with
``FOR UPDATE SKIP LOCKED`` so two assigners never hold the same task, and an agent's
``routing_workers`` row is locked (also ``SKIP LOCKED``: a busy row means "try the next best
agent", never a wait, so assigners cannot deadlock) before their load is counted and a
reservation added. Load is counted from ``routing_tasks`` inside that lock, so it includes
everything committed by others. SQLite has no row locks; there a no-op write first takes the
database's single write lock, which serialises assigners instead.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent, AgentSkill, Skill, Team
from kefu.audit.service import record
from kefu.conversations.models import Conversation, Message
from kefu.db.engine import dialect_insert
from kefu.identity.models import Customer
from kefu.routing.engine import Router, Task, Worker
from kefu.routing.models import RoutingEvent, RoutingTask, RoutingWorker, TaskState, WorkflowVersion
from kefu.routing.rules import Workflow, compile_workflow, load_text
from kefu.vocabulary import (
    ConversationStatus,
    DeliveryState,
    Direction,
    Presence,
    Role,
    SenderType,
)
from kefu.webhooks import service as webhooks

DEFAULT_WORKFLOW = Path(__file__).with_name("default_workflow.yaml")
ROUTABLE_ROLES = (Role.AGENT.value, Role.SUPERVISOR.value)
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
CANDIDATES = 4
PAGES = 4
_compiled: dict[str, Workflow] = {}


class RoutingError(ValueError):
    """A routing action that cannot be done now (wrong state, agent full or away)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def seconds(at: datetime) -> float:
    return at.timestamp()


# -- workflow versions ---------------------------------------------------------------------
async def current_workflow(session: AsyncSession) -> tuple[int, Workflow]:
    """The newest workflow version; the shipped default becomes version 1 on first use."""
    row = await session.scalar(
        select(WorkflowVersion).order_by(WorkflowVersion.version.desc()).limit(1)
    )
    if row is None:
        document = load_text(DEFAULT_WORKFLOW.read_text(encoding="utf-8"))
        workflow = compile_workflow(document)
        row = WorkflowVersion(
            version=1, document=workflow.document, comment="default", created_by="system"
        )
        session.add(row)
        await session.flush()
    # Keyed by content, not version number: one process may talk to several databases.
    key = json.dumps(row.document, sort_keys=True)
    if key not in _compiled:
        _compiled[key] = compile_workflow(row.document)
    return row.version, _compiled[key]


async def save_workflow(
    session: AsyncSession, *, document: dict[str, Any], comment: str, actor: str
) -> WorkflowVersion:
    """Validates (raises WorkflowError) and stores ``document`` as the next version."""
    workflow = compile_workflow(document)
    latest = await session.scalar(select(func.max(WorkflowVersion.version))) or 0
    row = WorkflowVersion(
        version=latest + 1, document=workflow.document, comment=comment[:200], created_by=actor
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="routing.workflow.save",
        target=f"v{row.version}",
        details={"comment": comment[:200]},
    )
    return row


async def router_for(session: AsyncSession) -> tuple[int, Router]:
    version, workflow = await current_workflow(session)
    return version, Router(workflow)


# -- loading state for the engine -----------------------------------------------------------
async def load_workers(
    session: AsyncSession, workflow: Workflow, *, only: Sequence[int] | None = None
) -> list[Worker]:
    """Routable agents with attributes, capacity and current load, in three plain queries
    (no ORM relationship loading: this runs on every assignment round)."""
    statement = (
        select(Agent.id, Agent.username, Agent.role, Agent.region, Agent.presence, Team.name,
               RoutingWorker.capacity, RoutingWorker.last_assigned_at)
        .outerjoin(Team, Team.id == Agent.team_id)
        .outerjoin(RoutingWorker, RoutingWorker.agent_id == Agent.id)
        .where(Agent.is_active.is_(True), Agent.role.in_(ROUTABLE_ROLES))
    )  # fmt: skip
    if only is not None:
        statement = statement.where(Agent.id.in_(list(only)))
    rows = (await session.execute(statement)).all()
    ids = [row[0] for row in rows]
    skills: dict[int, dict[str, int]] = {}
    if ids:
        for agent_id, name, level in await session.execute(
            select(AgentSkill.agent_id, Skill.name, AgentSkill.proficiency)
            .join(Skill, Skill.id == AgentSkill.skill_id)
            .where(AgentSkill.agent_id.in_(ids))
        ):
            skills.setdefault(agent_id, {})[name] = level
    loads = await _loads(session, ids)
    await ensure_worker_rows(session, [row[0] for row in rows if row[6] is None])
    workers = []
    for agent_id, username, role, region, presence, team, own_capacity, last in rows:
        capacity = {**workflow.capacity, **(own_capacity or {})}
        attributes = {
            "skills": skills.get(agent_id, {}),
            "team": team,
            "region": region,
            "role": role,
            "username": username,
            "channels": [c for c, n in capacity.items() if n > 0],
        }
        workers.append(
            Worker(
                id=agent_id,
                attributes=attributes,
                capacity=capacity,
                load=loads.get(agent_id, {}),
                available=presence == Presence.ONLINE.value,
                last_assigned_at=seconds(last) if last else 0.0,
            )
        )
    return workers


async def _loads(session: AsyncSession, agent_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(RoutingTask.agent_id, RoutingTask.channel, func.count())
        .where(RoutingTask.state.in_(TaskState.ACTIVE), RoutingTask.agent_id.in_(list(agent_ids)))
        .group_by(RoutingTask.agent_id, RoutingTask.channel)
    )
    loads: dict[int, dict[str, int]] = {}
    for agent_id, channel, count in rows:
        loads.setdefault(agent_id, {})[channel] = count
    return loads


def as_task(row: RoutingTask, last_worker_id: int | None = None) -> Task:
    return Task(
        id=row.conversation_id,
        channel=row.channel,
        rule=row.rule,
        priority=row.priority,
        enqueued_at=seconds(row.enqueued_at),
        last_worker_id=last_worker_id
        if last_worker_id is not None
        else row.attributes.get("last_agent_id"),
        rejected=frozenset(row.rejected or ()),
    )


def conversation_attributes(
    conversation: Conversation, customer: Customer | None, text_: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """What workflow conditions can read about a conversation."""
    created = conversation.created_at or datetime.now(UTC)
    attributes: dict[str, Any] = {
        "channel": conversation.channel,
        "intent": conversation.intent,
        "sentiment": 0.0,
        "tier": customer.tier if customer else None,
        "keywords": [],
        "region": customer.region if customer else None,
        "crisis": False,
        "text": text_,
        "subject": conversation.subject,
        "customer": customer is not None,
        "hour": created.astimezone(LOCAL_ZONE).hour,
        # A social post's analysis (set by kefu.social for posts; neutral for everything else).
        "emotion": None,
        "topic": None,
        "influence": 0.0,
        "social_priority": 0,
        "spam": False,
        "platform": None,
        "social_kind": None,
    }
    attributes.update({k: v for k, v in extra.items() if v is not None})
    return attributes


async def event(
    session: AsyncSession,
    *,
    conversation_id: int,
    kind: str,
    now: datetime,
    agent_id: int | None = None,
    actor: str = "system",
    **detail: Any,
) -> None:
    session.add(
        RoutingEvent(
            conversation_id=conversation_id,
            kind=kind,
            at=now,
            agent_id=agent_id,
            actor=actor,
            detail=detail,
        )
    )
    await session.flush()


async def _serialise_on_sqlite(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("UPDATE routing_workers SET agent_id = agent_id WHERE 1 = 0"))


# -- entering routing -------------------------------------------------------------------------
async def enqueue(
    session: AsyncSession,
    *,
    conversation: Conversation,
    attributes: dict[str, Any],
    now: datetime,
    actor: str = "system",
) -> RoutingTask:
    """Classifies the conversation and queues it (or answers politely when the queue is full)."""
    version, router = await router_for(session)
    if conversation.customer_id is not None:
        # Handling history: the agent who last served this customer is preferred.
        attributes["last_agent_id"] = await session.scalar(
            select(Conversation.assigned_agent_id)
            .where(
                Conversation.customer_id == conversation.customer_id,
                Conversation.id != conversation.id,
                Conversation.assigned_agent_id.is_not(None),
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    decision = router.classify(attributes)
    waiting = (
        await session.scalar(
            select(func.count())
            .select_from(RoutingTask)
            .where(RoutingTask.queue == decision.queue, RoutingTask.state == TaskState.WAITING)
        )
        or 0
    )
    task = RoutingTask(
        conversation_id=conversation.id,
        channel=conversation.channel,
        workflow_version=version,
        rule=decision.rule,
        queue=decision.queue,
        priority=decision.priority,
        attributes={k: v for k, v in attributes.items() if k != "text"},
        enqueued_at=now,
        rejected=[],
        tags=[],
    )
    conversation.priority = decision.priority
    if not router.admits(decision.queue, waiting):
        task.state = TaskState.OVERFLOWED
        session.add(task)
        reply = router.workflow.queues[decision.queue].overflow_reply
        session.add(Message(conversation_id=conversation.id, channel=conversation.channel, direction=Direction.OUTBOUND.value,
                            sender_type=SenderType.SYSTEM.value, body=reply, delivery_state=DeliveryState.ACCEPTED.value))  # fmt: skip
        await event(
            session,
            conversation_id=conversation.id,
            kind="overflow",
            now=now,
            actor=actor,
            queue=decision.queue,
            waiting=waiting,
        )
    else:
        session.add(task)
        await event(
            session,
            conversation_id=conversation.id,
            kind="queued",
            now=now,
            actor=actor,
            queue=decision.queue,
            rule=decision.rule,
            priority=decision.priority,
        )
    await webhooks.emit(
        session,
        event="conversation.created",
        payload=conversation_payload(conversation, task),
        now=now,
    )
    return task


def conversation_payload(conversation: Conversation, task: RoutingTask | None) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "status": conversation.status,
        "subject": conversation.subject,
        "intent": conversation.intent,
        "priority": conversation.priority,
        "assigned_agent_id": conversation.assigned_agent_id,
        "queue": task.queue if task else None,
        "routing_state": task.state if task else None,
    }


# -- assignment -------------------------------------------------------------------------------
async def assign_waiting(
    session: AsyncSession, *, now: datetime, limit: int = 50
) -> list[tuple[int, int]]:
    """Offers waiting tasks (queue order) to the best eligible agents. Returns the
    (conversation id, agent id) reservations made. Safe to run in many processes at once."""
    await _serialise_on_sqlite(session)
    _, workflow = await current_workflow(session)
    router = Router(workflow, tiebreak=random.getrandbits(20))
    workers = await load_workers(session, router.workflow)
    made: list[tuple[int, int]] = []
    at = seconds(now)
    held: dict[int, RoutingWorker | None] = {}
    seen: list[int] = []
    # A few pages: when the top of the queue waits for skills nobody free has (a bullseye ring
    # not yet relaxed), lower tasks that free agents can serve are still reached.
    for _ in range(PAGES):
        # Only channels someone can take now: tasks on a channel with no free agent would
        # otherwise fill every batch and starve the rest (head-of-line blocking).
        channels = sorted({c for w in workers if w.available for c in w.capacity if w.spare(c) > 0})
        if not channels:
            break
        statement = (
            select(RoutingTask)
            .where(RoutingTask.state == TaskState.WAITING, RoutingTask.channel.in_(channels))
            .order_by(RoutingTask.priority.desc(), RoutingTask.enqueued_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if seen:
            statement = statement.where(RoutingTask.conversation_id.not_in(seen))
        rows = (await session.scalars(statement)).all()
        seen += [row.conversation_id for row in rows]
        by_id = {row.conversation_id: row for row in rows}
        for task in router.order([as_task(r) for r in rows], at):
            # A few candidates only: a locked agent row means another assigner is busy with
            # that agent; the task simply stays for the next round rather than probing all.
            candidates = [
                w for w in router.rank_workers(task, workers, at, limit=CANDIDATES * 2) if held.get(w.id, True)
            ]  # fmt: skip
            for worker in candidates[:CANDIDATES]:
                if await _reserve(session, row=by_id[task.id], worker=worker, now=now,
                                  offer_timeout=router.workflow.offer_timeout, held=held):  # fmt: skip
                    made.append((task.id, worker.id))
                    break
        # The next page only when this one placed nothing: it exists for tasks stuck behind
        # ones nobody free can take, and a short transaction holds fewer agent locks.
        if made or len(rows) < limit:
            break
    await session.flush()
    return made


async def _lock_worker(session: AsyncSession, agent_id: int, *, wait: bool) -> RoutingWorker | None:
    """The agent's routing row, locked; None when another transaction holds it (wait=False)."""
    return await session.scalar(
        select(RoutingWorker)
        .where(RoutingWorker.agent_id == agent_id)
        .with_for_update(skip_locked=not wait)
    )


async def ensure_worker_rows(session: AsyncSession, agent_ids: Sequence[int]) -> None:
    """Every routable agent needs a routing_workers row to lock; create missing ones without
    racing other processes (INSERT … ON CONFLICT DO NOTHING, kefu.db.engine.dialect_insert)."""
    if not agent_ids:
        return
    await session.execute(
        dialect_insert(session, RoutingWorker)
        .values([{"agent_id": i, "capacity": {}} for i in agent_ids])
        .on_conflict_do_nothing()
    )


async def _has_room(
    session: AsyncSession, worker: Worker, channel: str, routing: RoutingWorker
) -> bool:
    capacity = dict(worker.capacity)
    capacity.update(routing.capacity or {})
    load = (
        await session.scalar(
            select(func.count())
            .select_from(RoutingTask)
            .where(
                RoutingTask.agent_id == worker.id,
                RoutingTask.state.in_(TaskState.ACTIVE),
                RoutingTask.channel == channel,
            )
        )
        or 0
    )
    worker.load[channel] = load  # refresh the snapshot with the locked truth
    return load < capacity.get(channel, 0)


async def _reserve(
    session: AsyncSession,
    *,
    row: RoutingTask,
    worker: Worker,
    now: datetime,
    offer_timeout: int,
    held: dict[int, RoutingWorker | None],
) -> bool:
    """Reserves ``row`` for ``worker`` if their row can be locked and they have room.

    ``held`` remembers the agents this transaction already tried: once locked, nobody else
    can change an agent's load until we commit, so their load is counted from the database
    once and then tracked in memory; an agent found locked by someone else is not retried.
    """
    if worker.id not in held:
        routing = await _lock_worker(session, worker.id, wait=False)
        held[worker.id] = routing
        if routing is not None:
            worker.load = await _locked_load(session, worker.id)
            worker.capacity = {**worker.capacity, **(routing.capacity or {})}
    routing = held[worker.id]
    if routing is None or worker.spare(row.channel) <= 0:
        return False
    row.state = TaskState.RESERVED
    row.agent_id = worker.id
    row.reserved_until = now + timedelta(seconds=offer_timeout)
    routing.last_assigned_at = now
    worker.load[row.channel] = worker.load.get(row.channel, 0) + 1
    worker.last_assigned_at = seconds(now)
    session.add(RoutingEvent(conversation_id=row.conversation_id, kind="offered", at=now, agent_id=worker.id,
                             actor="system", detail={"until": row.reserved_until.isoformat()}))  # fmt: skip
    return True


async def _locked_load(session: AsyncSession, agent_id: int) -> dict[str, int]:
    """The agent's load per channel, read while holding their row lock (so it is the truth)."""
    return (await _loads(session, [agent_id])).get(agent_id, {})


async def _task(session: AsyncSession, conversation_id: int) -> RoutingTask:
    row = await session.scalar(
        select(RoutingTask).where(RoutingTask.conversation_id == conversation_id).with_for_update()
    )
    if row is None:
        raise RoutingError(f"conversation {conversation_id} is not being routed", 404)
    return row


async def accept(
    session: AsyncSession, *, conversation_id: int, agent_id: int, now: datetime, actor: str
) -> RoutingTask:
    row = await _task(session, conversation_id)
    if row.state != TaskState.RESERVED or row.agent_id != agent_id:
        raise RoutingError("this conversation is not offered to you (the offer may have lapsed)")
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    row.state = TaskState.ASSIGNED
    row.reserved_until = None
    conversation.assigned_agent_id = agent_id
    await event(
        session,
        conversation_id=conversation_id,
        kind="accepted",
        now=now,
        agent_id=agent_id,
        actor=actor,
    )
    await webhooks.emit(
        session,
        event="conversation.assigned",
        payload=conversation_payload(conversation, row),
        now=now,
    )
    return row


class ClaimRefused(RoutingError):
    """Why a claim did not happen, as a code the pages translate (``taken``, ``not_waiting``,
    ``no_skill``, ``full``, ``not_routed``, ``closed``) and, for ``taken``, who has it."""

    def __init__(
        self, reason: str, message: str, status: int = 409, holder: str | None = None
    ) -> None:
        super().__init__(message, status)
        self.reason = reason
        self.holder = holder


async def claim(
    session: AsyncSession, *, conversation_id: int, agent_id: int, now: datetime, actor: str
) -> RoutingTask:
    """An agent picks a waiting conversation from the queue (认领).

    Allowed when the agent's attributes satisfy the expression of the queue the conversation
    waits in (the queue's skill) and they have room on its channel. Atomic: the agent's
    routing row is locked (so their load cannot change under us), then one conditional
    ``UPDATE … WHERE state = 'waiting'`` takes the task: of two agents claiming at once exactly
    one changes the row; the other's UPDATE matches nothing (PostgreSQL re-reads the row after
    the winner commits; SQLite serialises writers) and gets ``ClaimRefused('taken')``.
    A conversation offered to the claimer is simply accepted. Audited as
    ``conversation.claim``."""
    await _serialise_on_sqlite(session)
    row = await session.get(RoutingTask, conversation_id, populate_existing=True)
    if row is None:
        raise ClaimRefused("not_routed", f"conversation {conversation_id} is not being routed", 404)
    if row.state == TaskState.RESERVED and row.agent_id == agent_id:
        return await accept(
            session, conversation_id=conversation_id, agent_id=agent_id, now=now, actor=actor
        )
    _, router = await router_for(session)
    queue_name = router.target(as_task(row), seconds(now)).queue
    queue = router.workflow.queues.get(queue_name)
    await ensure_worker_rows(session, [agent_id])
    routing = await _lock_worker(session, agent_id, wait=True)
    workers = await load_workers(session, router.workflow, only=[agent_id])
    if not workers or routing is None:
        raise ClaimRefused("no_skill", "only agents and supervisors take conversations", 403)
    worker = workers[0]
    if queue is None or not queue.expression(worker.attributes):
        raise ClaimRefused("no_skill", f"you lack the skill of queue {queue_name!r}", 403)
    await _check_claimable(session, row, agent_id)
    if not await _has_room(session, worker, row.channel, routing):
        raise ClaimRefused("full", f"you have no free capacity on {row.channel}")
    result = await session.execute(
        update(RoutingTask)
        .where(
            RoutingTask.conversation_id == conversation_id, RoutingTask.state == TaskState.WAITING
        )
        .values(state=TaskState.ASSIGNED, agent_id=agent_id, reserved_until=None, queue=queue_name)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await _check_claimable(session, row, agent_id)
        raise ClaimRefused("not_waiting", "this conversation is no longer waiting")
    await session.refresh(row)
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    conversation.assigned_agent_id = agent_id
    routing.last_assigned_at = now
    await event(session, conversation_id=conversation_id, kind="claimed", now=now, agent_id=agent_id,
                actor=actor, queue=queue_name)  # fmt: skip
    await record(session, actor=actor, action="conversation.claim", target=str(conversation_id),
                 details={"queue": queue_name, "agent_id": agent_id})  # fmt: skip
    await webhooks.emit(
        session,
        event="conversation.assigned",
        payload=conversation_payload(conversation, row),
        now=now,
    )
    return row


async def _check_claimable(session: AsyncSession, row: RoutingTask, agent_id: int) -> None:
    """Re-reads the task; raises when it is not (any more) waiting, naming who holds it."""
    await session.refresh(row)
    if row.state == TaskState.WAITING:
        return
    if row.state in (TaskState.COMPLETED, TaskState.OVERFLOWED):
        raise ClaimRefused("closed", "this conversation is closed")
    if row.agent_id == agent_id:
        raise ClaimRefused("yours", "this conversation is already yours")
    holder = await session.scalar(select(Agent.display_name).where(Agent.id == row.agent_id))
    raise ClaimRefused("taken", f"{holder or 'another agent'} has already taken this conversation",
                       holder=holder)  # fmt: skip


async def reject(
    session: AsyncSession,
    *,
    conversation_id: int,
    agent_id: int,
    now: datetime,
    actor: str,
    reason: str = "",
) -> RoutingTask:
    row = await _task(session, conversation_id)
    if row.state != TaskState.RESERVED or row.agent_id != agent_id:
        raise RoutingError("this conversation is not offered to you")
    _requeue(row, agent_id)
    await event(
        session,
        conversation_id=conversation_id,
        kind="rejected",
        now=now,
        agent_id=agent_id,
        actor=actor,
        reason=reason[:200],
    )
    return row


def _requeue(row: RoutingTask, agent_id: int | None) -> None:
    row.state = TaskState.WAITING
    if agent_id is not None:
        row.rejected = sorted({*(row.rejected or []), agent_id})
    row.agent_id = None
    row.reserved_until = None


async def expire_offers(session: AsyncSession, *, now: datetime) -> int:
    """Offers not accepted in time go back to the queue; that agent is skipped next time."""
    rows = (
        await session.scalars(
            select(RoutingTask)
            .where(RoutingTask.state == TaskState.RESERVED, RoutingTask.reserved_until < now)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        agent_id = row.agent_id
        _requeue(row, agent_id)
        await event(
            session,
            conversation_id=row.conversation_id,
            kind="offer_expired",
            now=now,
            agent_id=agent_id,
        )
    return len(rows)


# -- transfer, escalation, closing -------------------------------------------------------------
async def transfer(
    session: AsyncSession, *, conversation_id: int, now: datetime, actor: str, to_agent_id: int | None = None,
    to_queue: str | None = None, note: str = "",
) -> RoutingTask:  # fmt: skip
    """To an agent (only when online with room on the channel) or back to a queue."""
    if (to_agent_id is None) == (to_queue is None):
        raise RoutingError("give exactly one of to_agent_id or to_queue", 422)
    row = await _task(session, conversation_id)
    if row.state in (TaskState.COMPLETED, TaskState.OVERFLOWED):
        raise RoutingError("this conversation is closed")
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    _, router = await router_for(session)
    previous = row.agent_id
    if to_agent_id is not None:
        await _assign_to(
            session, row=row, conversation=conversation, agent_id=to_agent_id, router=router
        )
        await event(
            session,
            conversation_id=conversation_id,
            kind="transferred",
            now=now,
            agent_id=to_agent_id,
            actor=actor,
            from_agent_id=previous,
            note=note[:500],
        )
        await webhooks.emit(
            session,
            event="conversation.assigned",
            payload=conversation_payload(conversation, row),
            now=now,
        )
    else:
        assert to_queue is not None
        if to_queue not in router.workflow.queues:
            raise RoutingError(f"no queue {to_queue!r}", 422)
        row.rule = f"queue:{to_queue}"
        row.queue = to_queue
        row.enqueued_at = now
        _requeue(row, None)
        row.rejected = [previous] if previous else []
        conversation.assigned_agent_id = None
        await event(
            session,
            conversation_id=conversation_id,
            kind="transferred",
            now=now,
            actor=actor,
            from_agent_id=previous,
            queue=to_queue,
            note=note[:500],
        )
    return row


async def _assign_to(
    session: AsyncSession,
    *,
    row: RoutingTask,
    conversation: Conversation,
    agent_id: int,
    router: Router,
) -> None:
    agent = await session.get(Agent, agent_id)
    if agent is None or not agent.is_active or agent.role not in ROUTABLE_ROLES:
        raise RoutingError(f"no agent {agent_id}", 422)
    if agent.presence != Presence.ONLINE.value:
        raise RoutingError(f"{agent.display_name} is not online ({agent.presence})")
    if row.agent_id == agent_id and row.state == TaskState.ASSIGNED:
        raise RoutingError("already assigned to this agent")
    await ensure_worker_rows(session, [agent_id])
    routing = await _lock_worker(session, agent_id, wait=True)
    assert routing is not None
    [worker] = await load_workers(session, router.workflow, only=[agent_id])
    if not await _has_room(session, worker, row.channel, routing):
        raise RoutingError(f"{agent.display_name} has no free capacity on {row.channel}")
    row.state = TaskState.ASSIGNED
    row.agent_id = agent_id
    row.reserved_until = None
    conversation.assigned_agent_id = agent_id


async def escalate(
    session: AsyncSession,
    *,
    conversation_id: int,
    now: datetime,
    actor: str,
    reason: str,
    to_agent_id: int | None = None,
) -> RoutingTask:
    """升级上报: flag for supervisors and hand to one (the given one, else the least loaded
    online supervisor with room); with none online it stays flagged where it is."""
    row = await _task(session, conversation_id)
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    _, router = await router_for(session)
    row.escalated = True
    target = to_agent_id
    if target is None:
        supervisors = [
            w for w in await load_workers(session, router.workflow)
            if w.attributes["role"] == Role.SUPERVISOR.value and w.available and w.spare(row.channel) > 0
        ]  # fmt: skip
        supervisors.sort(key=lambda w: (-w.spare(row.channel), w.id))
        target = supervisors[0].id if supervisors else None
    previous = row.agent_id
    if target is not None and target != row.agent_id:
        await _assign_to(
            session, row=row, conversation=conversation, agent_id=target, router=router
        )
    await event(
        session,
        conversation_id=conversation_id,
        kind="escalated",
        now=now,
        agent_id=target,
        actor=actor,
        reason=reason[:500],
        from_agent_id=previous,
    )
    return row


async def close(
    session: AsyncSession,
    *,
    conversation_id: int,
    now: datetime,
    actor: str,
    disposition: str | None = None,
) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise RoutingError(f"no conversation {conversation_id}", 404)
    if conversation.status == ConversationStatus.CLOSED.value:
        raise RoutingError("already closed")
    conversation.status = ConversationStatus.CLOSED.value
    conversation.closed_at = now
    row = await session.scalar(
        select(RoutingTask).where(RoutingTask.conversation_id == conversation_id).with_for_update()
    )
    if row is not None:
        row.state = TaskState.COMPLETED
        row.reserved_until = None
        row.disposition = disposition
    await event(
        session,
        conversation_id=conversation_id,
        kind="closed",
        now=now,
        agent_id=conversation.assigned_agent_id,
        actor=actor,
        disposition=disposition,
    )
    # Quality sits above routing (it reads conversations and sends through the contract):
    # imported here, at the one moment it acts, to keep routing free of it at import time.
    from kefu.quality.hooks import conversation_closed

    await conversation_closed(session, conversation, now)
    await webhooks.emit(
        session,
        event="conversation.closed",
        payload={**conversation_payload(conversation, row), "disposition": disposition},
        now=now,
    )
    return conversation


async def set_waiting_on_customer(
    session: AsyncSession, *, conversation_id: int, waiting: bool, now: datetime, actor: str
) -> None:
    """Pending status pauses the SLA clocks; back to open resumes them."""
    from kefu.routing import sla

    conversation = await session.get(Conversation, conversation_id)
    row = await _task(session, conversation_id)
    if conversation is None or conversation.status == ConversationStatus.CLOSED.value:
        raise RoutingError("this conversation is closed")
    _, router = await router_for(session)
    queue = router.workflow.queues.get(row.queue)
    calendar = router.workflow.calendars.get(queue.sla.calendar) if queue else None
    if waiting and row.sla_paused_at is None:
        row.sla_paused_at = now
        conversation.status = ConversationStatus.PENDING.value
    elif not waiting and row.sla_paused_at is not None:
        row.sla_paused_seconds += int(
            sla.business_seconds(sla.utc(row.sla_paused_at), now, calendar)
        )
        row.sla_paused_at = None
        conversation.status = ConversationStatus.OPEN.value
    await event(
        session,
        conversation_id=conversation_id,
        kind="pending" if waiting else "resumed",
        now=now,
        actor=actor,
    )


async def check_sla(session: AsyncSession, *, now: datetime) -> list[tuple[int, str]]:
    """Marks breaches (once per conversation and clock), records them, escalates if the
    queue says so. Returns (conversation id, clock) pairs newly breached."""
    from kefu.routing import sla

    _, router = await router_for(session)
    rows = (
        await session.scalars(
            select(RoutingTask).where(RoutingTask.state.in_((TaskState.WAITING, *TaskState.ACTIVE)))
            .with_for_update(skip_locked=True)
        )
    ).all()  # fmt: skip
    breaches: list[tuple[int, str]] = []
    for row in rows:
        queue = router.workflow.queues.get(row.queue)
        if queue is None:
            continue
        calendar = router.workflow.calendars.get(queue.sla.calendar)
        for clock in sla.clocks(sla=queue.sla, calendar=calendar, enqueued_at=sla.utc(row.enqueued_at), now=now,
                                first_response_at=row.first_response_at, paused_seconds=row.sla_paused_seconds,
                                paused_at=row.sla_paused_at):  # fmt: skip
            already = set((row.breached or "").split(",")) - {""}
            if clock.breached and not clock.done and clock.name not in already:
                row.breached = ",".join(sorted({*already, clock.name}))
                breaches.append((row.conversation_id, clock.name))
                await event(
                    session,
                    conversation_id=row.conversation_id,
                    kind="sla_breach",
                    now=now,
                    agent_id=row.agent_id,
                    clock=clock.name,
                    target=clock.target,
                )
                if queue.sla.escalate_on_breach and not row.escalated:
                    row.escalated = True
                    await event(
                        session,
                        conversation_id=row.conversation_id,
                        kind="escalated",
                        now=now,
                        reason=f"SLA {clock.name} breached",
                    )
    return breaches


async def mark_first_response(
    session: AsyncSession, *, conversation_id: int, now: datetime
) -> None:
    await session.execute(
        update(RoutingTask)
        .where(
            RoutingTask.conversation_id == conversation_id, RoutingTask.first_response_at.is_(None)
        )
        .values(first_response_at=now)
    )
