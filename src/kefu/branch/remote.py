"""Hybrid tellers and VTMs (video teller machines): counters served by a remote agent through
the routing engine, not by a teller pressing "call next".

A counter whose kind is ``vtm`` or ``hybrid`` is a queue target. When it is open and free,
``dispatch`` calls the next ticket its work profile serves (``queue.call_next``: the same
guarded claim as a teller's, so a ticket is never taken twice) and opens a routed
conversation on the channel ``vtm`` for it. Routing then offers that conversation like any
chat: to an online agent whose skills satisfy the ``branch_remote`` queue
(``skills.remote_teller >= 1``) and who has room on the ``vtm`` channel — capacity 2 by
default, so one remote agent serves two machines at once. The agent accepts in the
workspace; the session page (``remote_views``) shows the ticket, the pre-filled form and the
customer panel; finishing the session closes the conversation and completes the ticket, and
the machine takes the next customer.

Routing knows nothing of branches: this module calls its public service (``intake``,
``service``) and adds its queue and rule to the routing workflow as a new, audited version
(``ensure_routing``) when a remote counter is first added. The video itself is out of scope;
``vtm_video_url`` (a URL template in the branch settings) is the hook a video system plugs in.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch import queue
from kefu.branch.models import REMOTE_KINDS, BranchCounter, BranchTicket
from kefu.branch.services import SERVICES
from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.routing import intake
from kefu.routing import service as routing
from kefu.vocabulary import ConversationStatus

CHANNEL = "vtm"
QUEUE = "branch_remote"
SKILL = "remote_teller"
SESSIONS_PER_AGENT = 2  # the workflow's capacity on the vtm channel; per agent overridable
OUTCOMES = ("done", "no_show")

# What ensure_routing adds to the workflow document (routing's own format, docs/routing.md).
ROUTING_QUEUE: dict[str, Any] = {
    "name": QUEUE,
    "label": "远程柜员",
    "expression": f"skills.{SKILL} >= 1",
    "sla": {"first_response": 60, "calendar": "always"},
}
ROUTING_RULE: dict[str, Any] = {
    "name": QUEUE,
    "when": f'channel == "{CHANNEL}"',
    "priority": 3,
    "targets": [{"queue": QUEUE}],  # no fallback: only remote tellers may serve a machine
}


def routing_document(document: dict[str, Any]) -> dict[str, Any] | None:
    """``document`` with the remote-teller queue, its rule (first, so no keyword rule diverts
    a machine's customer) and capacity on the vtm channel; None when it has them already."""
    queues = [q["name"] for q in document.get("queues", [])]
    rules = [r["name"] for r in document.get("rules", [])]
    capacity = document.get("capacity", {})
    if QUEUE in queues and QUEUE in rules and CHANNEL in capacity:
        return None
    changed = copy.deepcopy(document)
    if QUEUE not in queues:
        changed.setdefault("queues", []).append(dict(ROUTING_QUEUE))
    if QUEUE not in rules:
        changed["rules"] = [copy.deepcopy(ROUTING_RULE), *changed.get("rules", [])]
    changed.setdefault("capacity", {}).setdefault(CHANNEL, SESSIONS_PER_AGENT)
    return changed


async def ensure_routing(db: AsyncSession, *, actor: str) -> bool:
    """Adds the remote-teller queue and rule to routing's workflow (a new version, audited by
    routing) unless present. True when a version was saved."""
    _, workflow = await routing.current_workflow(db)
    document = routing_document(dict(workflow.document))
    if document is None:
        return False
    await routing.save_workflow(
        db, document=document, comment="智能网点：远程柜员（VTM/混合柜台）队列", actor=actor
    )
    return True


def is_remote(counter: BranchCounter) -> bool:
    return counter.kind in REMOTE_KINDS


async def _settle_closed(db: AsyncSession, counter: BranchCounter, now: datetime) -> None:
    """A session closed from the workspace (not from the session page) frees its machine."""
    if counter.current_ticket_id is None:
        return
    ticket = await db.get(BranchTicket, counter.current_ticket_id)
    if ticket is None or ticket.conversation_id is None:
        return
    status = await db.scalar(
        select(Conversation.status).where(Conversation.id == ticket.conversation_id)
    )
    if status == ConversationStatus.CLOSED.value:
        _complete(ticket, counter, "done", now)


def _complete(ticket: BranchTicket, counter: BranchCounter, outcome: str, now: datetime) -> None:
    if ticket.state == "called":
        ticket.state, ticket.finished_at = outcome, now
    if counter.current_ticket_id == ticket.id:
        counter.current_ticket_id = None
        counter.updated_at = now


async def dispatch(
    db: AsyncSession, branch_code: str, now: datetime | None = None
) -> list[BranchTicket]:
    """Every open, free remote counter of the branch calls its next ticket and hands it to
    routing as a conversation. Returns the tickets handed over (in the caller's transaction;
    the routing ticker offers them to agents)."""
    now = now or utcnow()
    counters = list(
        await db.scalars(
            select(BranchCounter)
            .where(
                BranchCounter.branch_code == branch_code,
                BranchCounter.kind.in_(REMOTE_KINDS),
                BranchCounter.state == "open",
            )
            .order_by(BranchCounter.number)
        )
    )
    handed: list[BranchTicket] = []
    for counter in counters:
        await _settle_closed(db, counter, now)
        if counter.current_ticket_id is not None:
            continue
        ticket = await queue.call_next(db, counter_id=counter.id, now=now)
        if ticket is None:
            continue
        ticket.conversation_id = await _open_session(db, counter, ticket, now)
        await db.flush()
        handed.append(ticket)
    return handed


async def _open_session(
    db: AsyncSession, counter: BranchCounter, ticket: BranchTicket, now: datetime
) -> int:
    label = SERVICES[ticket.service].label
    kind = "VTM" if counter.kind == "vtm" else "混合柜台"
    phone = (
        (ticket.customer_key or "")[6:] if (ticket.customer_key or "").startswith("phone:") else ""
    )
    text = (
        f"{ticket.branch_code} {counter.number}号{kind}：号票 {ticket.label}（{label}）请求远程柜员"
    )
    conversation, _ = await intake.open_conversation(
        db, channel=CHANNEL, contact=phone, text=text, now=now,
        subject=f"{kind} {ticket.branch_code}/{counter.number} {ticket.label} {label}",
        intent=None, actor=f"branch:{ticket.branch_code}",
        attributes={"branch_code": ticket.branch_code, "branch_counter": counter.number,
                    "branch_ticket": ticket.id, "branch_service": ticket.service,
                    "branch_priority": ticket.priority_kind},
    )  # fmt: skip
    return conversation.id


async def ticket_of(db: AsyncSession, conversation_id: int) -> BranchTicket | None:
    return await db.scalar(
        select(BranchTicket).where(BranchTicket.conversation_id == conversation_id)
    )


async def finish(
    db: AsyncSession,
    *,
    conversation_id: int,
    actor: str,
    outcome: str = "done",
    now: datetime | None = None,
) -> BranchTicket:
    """The remote agent ends the session: the ticket is done (or a no-show), the conversation
    closed through routing (freeing the agent's capacity), and the machine calls the next."""
    now = now or utcnow()
    if outcome not in OUTCOMES:
        raise queue.QueueError("bad_outcome", "结果只能是办结或未到")
    ticket = await ticket_of(db, conversation_id)
    if ticket is None:
        raise queue.QueueError("no_ticket", "这个会话不是网点远程柜员的会话")
    if ticket.state != "called":
        raise queue.QueueError("finished", f"号票 {ticket.label} 已经办结")
    counter = await db.get(BranchCounter, ticket.counter_id, with_for_update=True)
    assert counter is not None
    _complete(ticket, counter, outcome, now)
    conversation = await db.get(Conversation, conversation_id)
    if conversation is not None and conversation.status != ConversationStatus.CLOSED.value:
        await routing.close(db, conversation_id=conversation_id, now=now, actor=actor,
                            disposition="branch_" + outcome)  # fmt: skip
    await db.flush()
    await dispatch(db, ticket.branch_code, now)
    return ticket
