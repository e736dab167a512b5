"""The agent's live inbox, the conversation view and what an agent does there (reply, batch
reply, scripts, notes, tags, presence), as pages and as JSON API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kefu.agents.models import Agent
from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort
from kefu.conversations.models import Conversation, Message
from kefu.privacy import mask_data, mask_text
from kefu.routing import service as routing
from kefu.routing import sla
from kefu.routing.models import RoutingEvent, RoutingTask, TaskState
from kefu.vocabulary import Channel, Direction, Presence
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, get_bank, require
from kefu.web.i18n import N_, gettext_
from kefu.web.live import marker_events
from kefu.workspace import (
    formatting,
    menus,
    scripts,
    service,
    transcript,
    visibility,
)
from kefu.workspace import presence as presence_states
from kefu.workspace.messages import for_staff, staff_errors
from kefu.workspace.models import ConversationNote, ReplyScript

router = APIRouter()
Reply = aliased(Message)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _fail(exc: Exception) -> HTTPException:
    return HTTPException(getattr(exc, "status", 422), str(exc))


# -- the inbox ------------------------------------------------------------------------------------------
class InboxItem(BaseModel):
    id: int
    channel: str
    contact: str
    subject: str
    intent: str | None
    priority: int
    status: str
    routing_state: str
    queue: str
    sentiment: float | None
    waited_seconds: int
    sla: str  # ok, warning, breached
    offer_expires_in: int | None
    tags: list[str]
    claimable: bool = False  # waiting in a queue whose skill the caller has
    queue_label: str = ""  # the queue's Chinese label from the workflow (信用卡), not its code
    sla_left: int | None = None  # seconds left on the most urgent running SLA clock (<0: over)
    sla_clock: str | None = None  # which clock: first_response or resolution
    unanswered: int = 0  # customer messages since the last reply (unread, for the list)


class Mention(BaseModel):
    conversation_id: int
    author: str | None
    body: str
    created_at: str


class Inbox(BaseModel):
    presence: str
    presence_reason: str | None = None
    offers: list[InboxItem]
    mine: list[InboxItem]
    queue: list[InboxItem]
    mentions: list[Mention] = []


def _sla_state(task: RoutingTask, router_: Any, now: datetime) -> str:
    return _sla(task, router_, now)[0]


def _sla(task: RoutingTask, router_: Any, now: datetime) -> tuple[str, int | None, str | None]:
    """(state, seconds left on the most urgent running clock, that clock's name)."""
    queue = router_.workflow.queues.get(task.queue)
    if queue is None:
        return ("breached" if task.breached else "ok"), None, None
    clocks = sla.clocks(sla=queue.sla, calendar=router_.workflow.calendars.get(queue.sla.calendar),
                        enqueued_at=sla.utc(task.enqueued_at), now=now, first_response_at=task.first_response_at,
                        paused_seconds=task.sla_paused_seconds, paused_at=task.sla_paused_at)  # fmt: skip
    running = sorted((c for c in clocks if not c.done), key=lambda c: c.remaining)
    urgent = running[0] if running else None
    left = int(urgent.remaining) if urgent is not None else None
    name = urgent.name if urgent is not None else None
    if task.breached or any(c.breached for c in running):
        return "breached", left, name
    return ("warning" if any(c.remaining < c.target * 0.25 for c in running) else "ok"), left, name


async def build_inbox(db: AsyncSession, principal: Principal, *, channel: str | None = None,
                      intent: str | None = None, sentiment: str | None = None, sla_state: str | None = None) -> Inbox:  # fmt: skip
    _, router_ = await routing.router_for(db)
    now = now_utc()
    agent = await db.get(Agent, principal.id) if principal.kind == "user" else None
    statement = (
        select(RoutingTask, Conversation)
        .join(Conversation, Conversation.id == RoutingTask.conversation_id)
        .where(
            (RoutingTask.agent_id == principal.id) & RoutingTask.state.in_(TaskState.ACTIVE)
            | (RoutingTask.state == TaskState.WAITING)
        )
        .order_by(RoutingTask.priority.desc(), RoutingTask.enqueued_at)
        .limit(500)
    )
    if channel:
        statement = statement.where(Conversation.channel == channel)
    if intent:
        statement = statement.where(Conversation.intent == intent)
    inbox = Inbox(presence=agent.presence if agent else Presence.OFFLINE.value, offers=[], mine=[], queue=[],
                  presence_reason=agent.presence_reason if agent else None,
                  mentions=await _mentions(db, principal))  # fmt: skip
    worker = None
    if principal.kind == "user" and principal.can(Permission.CONVERSATIONS_HANDLE):
        found = await routing.load_workers(db, router_.workflow, only=[principal.id])
        worker = found[0] if found else None
    found = (await db.execute(statement)).all()
    unanswered = await _unanswered(db, [conv.id for _, conv in found])
    taps = await menus.click_labels(db)
    for task, conv in found:
        value = task.attributes.get("sentiment")
        if sentiment == "negative" and not (isinstance(value, (int, float)) and value <= -0.3):
            continue
        state, left, clock = _sla(task, router_, now)
        if sla_state and state != sla_state:
            continue
        expires = None
        if task.state == TaskState.RESERVED and task.reserved_until:
            expires = max(0, int((sla.utc(task.reserved_until) - now).total_seconds()))
        item = InboxItem(
            id=conv.id, channel=conv.channel,
            contact=formatting.contact_label(conv.channel, conv.contact),
            subject=mask_text(menus.subject(taps, conv.channel, conv.subject)), intent=conv.intent, priority=task.priority, status=conv.status,
            routing_state=task.state, queue=router_.target(routing.as_task(task), now.timestamp()).queue,
            sentiment=value if isinstance(value, (int, float)) else None,
            waited_seconds=int((now - sla.utc(task.enqueued_at)).total_seconds()), sla=state,
            offer_expires_in=expires, tags=task.tags or [], sla_left=left, sla_clock=clock,
            unanswered=unanswered.get(conv.id, 0),
        )  # fmt: skip
        queue_def = router_.workflow.queues.get(item.queue)
        item.queue_label = (queue_def.label if queue_def is not None else "") or item.queue
        if task.state == TaskState.WAITING and worker is not None:
            queue = router_.workflow.queues.get(item.queue)
            item.claimable = bool(queue and queue.expression(worker.attributes))
        if task.state == TaskState.RESERVED:
            inbox.offers.append(item)
        elif task.state == TaskState.ASSIGNED:
            inbox.mine.append(item)
        else:
            inbox.queue.append(item)
    return inbox


async def _unanswered(db: AsyncSession, ids: list[int]) -> dict[int, int]:
    """Customer messages after the last outbound message, per conversation (one query)."""
    if not ids:
        return {}
    last_out = (
        select(func.coalesce(func.max(Reply.id), 0))
        .where(
            Reply.conversation_id == Message.conversation_id,
            Reply.direction == Direction.OUTBOUND.value,
        )
        .scalar_subquery()
    )
    rows = await db.execute(
        select(Message.conversation_id, func.count())
        .where(
            Message.conversation_id.in_(ids),
            Message.direction == Direction.INBOUND.value,
            Message.id > last_out,
        )
        .group_by(Message.conversation_id)
    )
    return {cid: n for cid, n in rows.all()}


async def _mentions(db: AsyncSession, principal: Principal, limit: int = 10) -> list[Mention]:
    """Notes that @mention the caller, newest first. The mention list is JSON, which SQLite and
    PostgreSQL query differently; recent notes are few, so they are filtered here."""
    names = dict((await db.execute(select(Agent.id, Agent.display_name))).all())
    notes = await db.scalars(
        select(ConversationNote).order_by(ConversationNote.id.desc()).limit(500)
    )
    found = [
        Mention(conversation_id=n.conversation_id, author=names.get(n.author_id) if n.author_id else None,
                body=mask_text(n.body), created_at=n.created_at.isoformat())
        for n in notes if principal.name in (n.mentions or [])
    ]  # fmt: skip
    return found[:limit]


Filters = dict[str, str | None]


def _filters(
    channel: str | None, intent: str | None, sentiment: str | None, sla_state: str | None
) -> Filters:
    if channel and channel not in {c.value for c in Channel}:
        raise HTTPException(422, f"channel: one of {[c.value for c in Channel]}")
    if sentiment not in (None, "", "negative"):
        raise HTTPException(422, "sentiment: 'negative' or empty")
    if sla_state not in (None, "", "ok", "warning", "breached"):
        raise HTTPException(422, "sla: ok, warning or breached")
    return {"channel": channel or None, "intent": (intent or None) and intent[:32],
            "sentiment": sentiment or None, "sla_state": sla_state or None}  # fmt: skip


@router.get(
    "/api/v1/inbox", tags=["workspace"], summary="My offers, my conversations and the waiting queue"
)
async def inbox_api(
    channel: str | None = None, intent: str | None = None, sentiment: str | None = None,
    sla_state: Annotated[str | None, Query(alias="sla")] = None,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)), db: AsyncSession = DB_SESSION,
) -> Inbox:  # fmt: skip
    return await build_inbox(db, principal, **_filters(channel, intent, sentiment, sla_state))


@router.get("/workspace/inbox", include_in_schema=False)
async def inbox_page(
    request: Request, channel: str | None = None, intent: str | None = None, sentiment: str | None = None,
    sla_state: Annotated[str | None, Query(alias="sla")] = None,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    templates = formatting.desk_templates()

    filters = _filters(channel, intent, sentiment, sla_state)
    inbox = await build_inbox(db, principal, **filters)
    scripts = await service.search_scripts(db, "", limit=100)
    return templates.TemplateResponse(request, "workspace/inbox.html", {
        "principal": principal, "csrf": csrf_token(request), "inbox": inbox, "filters": filters,
        "heartbeat_seconds": heartbeat_seconds(request), "reasons": presence_states.REASONS,
        "state_labels": presence_states.STATE_LABELS,
        "scripts": scripts, "channels": [c.value for c in Channel], "query": request.url.query,
    })  # fmt: skip


@router.get("/workspace/inbox/fragment", include_in_schema=False)
async def inbox_fragment(
    request: Request, channel: str | None = None, intent: str | None = None, sentiment: str | None = None,
    sla_state: Annotated[str | None, Query(alias="sla")] = None,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    templates = formatting.desk_templates()

    inbox = await build_inbox(db, principal, **_filters(channel, intent, sentiment, sla_state))
    return templates.TemplateResponse(request, "workspace/_inbox.html",
                                      {"principal": principal, "csrf": csrf_token(request), "inbox": inbox})  # fmt: skip


async def _marker(request: Request) -> tuple[int, int]:
    async with request.app.state.sessionmaker() as db:
        events = await db.scalar(select(func.max(RoutingEvent.id))) or 0
        messages = await db.scalar(select(func.max(Message.id))) or 0
    return events, messages


@router.get("/workspace/events", include_in_schema=False)
async def events_stream(
    request: Request,
    max_seconds: Annotated[float, Query(ge=0.5, le=3600)] = 300,
    _: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
) -> StreamingResponse:
    """Server-sent events: 'changed' whenever routing or messages moved. The browser then
    re-fetches its inbox fragment (htmx). The bus's 'workspace' signal (a commit of routing
    events or messages) wakes the stream; the newest ids are the marker it compares (see
    kefu.web.live for the fallback reads). The stream ends after max_seconds and EventSource
    reconnects by itself."""

    return marker_events(request, _marker, poll_seconds=0.5, max_seconds=max_seconds,
                         wake="workspace")  # fmt: skip


class PresenceIn(BaseModel):
    presence: Presence
    reason: Literal["break", "training", "after_call_work"] | None = Field(
        default=None, description="why not ready (presence away): break, training, after_call_work"
    )


@router.put(
    "/api/v1/me/presence",
    tags=["workspace"],
    summary="Set my state: online (ready, receives offers), away (not ready, with a reason), busy, offline",
)
async def presence_api(body: PresenceIn, principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                       db: AsyncSession = DB_SESSION) -> dict[str, str | None]:  # fmt: skip
    agent = await _set_presence(db, principal, body.presence, body.reason)
    return {"presence": agent.presence, "reason": agent.presence_reason}


async def _set_presence(
    db: AsyncSession, principal: Principal, presence: Presence, reason: str | None = None
) -> Agent:
    if principal.kind != "user":
        raise HTTPException(422, "an API key has no presence")
    agent = await db.get(Agent, principal.id)
    assert agent is not None
    await presence_states.set_state(db, agent, presence, now=now_utc(), reason=reason)
    if presence == Presence.ONLINE:
        await routing.ensure_worker_rows(db, [agent.id])
        await routing.assign_waiting(db, now=now_utc())
    return agent


@router.post("/workspace/presence", include_in_schema=False)
async def presence_form(request: Request, presence: Annotated[Presence, Form()], csrf: Annotated[str, Form()] = "",
                        reason: Annotated[Literal["", "break", "training", "after_call_work"], Form()] = "",
                        principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                        db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    await _set_presence(db, principal, presence, reason or None)
    return RedirectResponse("/workspace/inbox", status_code=303)


@router.post("/workspace/heartbeat", include_in_schema=False)
async def heartbeat(request: Request, csrf: Annotated[str, Form()] = "",
                    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                    db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    """Open workspace pages call this every presence_heartbeat_seconds (htmx); without it for
    twice that long the routing ticker sets the agent offline."""
    check_csrf(request, csrf)
    if principal.kind == "user":
        await presence_states.heartbeat(db, principal.id, now=now_utc())
    return Response(status_code=204)


@router.post("/api/v1/me/heartbeat", tags=["workspace"],
             summary="I am still here: keeps my presence (desk clients other than the pages call this)")  # fmt: skip
async def heartbeat_api(principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                        db: AsyncSession = DB_SESSION) -> dict[str, str]:  # fmt: skip
    if principal.kind != "user":
        raise HTTPException(422, "an API key has no presence")
    return {"presence": await presence_states.heartbeat(db, principal.id, now=now_utc())}


def heartbeat_seconds(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return int(getattr(settings, "presence_heartbeat_seconds", 30))


# -- one conversation --------------------------------------------------------------------------------------
async def conversation_detail(
    db: AsyncSession, conversation_id: int, view: visibility.Visibility
) -> dict[str, Any]:
    """One conversation as staff see it: customer text masked (card, ID and phone numbers,
    however typed: privacy.mask_text), the customer's other conversations only where ``view``
    may read them. The stored text stays as it was typed."""
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    task = await db.get(RoutingTask, conversation_id)
    names = dict((await db.execute(select(Agent.id, Agent.display_name))).all())
    messages = (
        await db.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
    ).all()
    # Full history across channels: the customer's earlier conversations, oldest first.
    history: list[Message] = []
    if conversation.customer_id is not None:
        others = [c.id for c in await service.past_conversations(db, conversation, view, limit=50)]
        history = list((await db.scalars(
            select(Message).where(Message.conversation_id.in_(others))
            .order_by(Message.id.desc()).limit(30)
        )).all())[::-1] if others else []  # fmt: skip
    notes = (await db.scalars(select(ConversationNote).where(ConversationNote.conversation_id == conversation_id)
                              .order_by(ConversationNote.id))).all()  # fmt: skip
    events = (await db.scalars(select(RoutingEvent).where(RoutingEvent.conversation_id == conversation_id)
                               .order_by(RoutingEvent.id))).all()  # fmt: skip
    _, router_ = await routing.router_for(db)
    labels = {name: q.label or name for name, q in router_.workflow.queues.items()}
    # The queue it waits in now (its current target), as the inbox and the supervisor board show.
    current = (
        router_.target(routing.as_task(task), now_utc().timestamp()).queue
        if task is not None
        else ""
    )

    taps = await menus.click_labels(db)

    def message_out(m: Message) -> dict[str, Any]:
        body = mask_text(menus.message_text(taps, m.channel, m.direction, m.body))
        return {"id": m.id, "conversation_id": m.conversation_id, "channel": m.channel, "direction": m.direction,
                "sender_type": m.sender_type, "agent": names.get(m.sender_agent_id) if m.sender_agent_id else None,
                "body": body, "delivery_state": m.delivery_state, "delivery_error": m.delivery_error,
                "reply_mode": m.reply_mode, "created_at": m.created_at.isoformat()}  # fmt: skip

    return {
        "id": conversation.id, "channel": conversation.channel, "status": conversation.status,
        "subject": mask_text(menus.subject(taps, conversation.channel, conversation.subject)), "intent": conversation.intent, "priority": conversation.priority,
        "contact": formatting.contact_label(conversation.channel, conversation.contact),
        "assigned_agent": names.get(conversation.assigned_agent_id) if conversation.assigned_agent_id else None,
        "assigned_agent_id": conversation.assigned_agent_id,
        "routing": None if task is None else {
            "state": task.state, "queue": task.queue, "queue_label": labels.get(current, current), "queue_now": current,
            "rule": task.rule, "agent_id": task.agent_id,
            "escalated": task.escalated, "breached": task.breached, "tags": task.tags or [],
            "disposition": task.disposition, "attributes": mask_data(task.attributes),
        },
        "messages": [message_out(m) for m in messages],
        "history": [message_out(m) for m in history],
        "notes": [{"id": n.id, "author": names.get(n.author_id) if n.author_id else None, "body": mask_text(n.body),
                   "mentions": n.mentions, "created_at": n.created_at.isoformat()} for n in notes],
        "events": [{"kind": e.kind, "at": e.at.isoformat(), "agent": names.get(e.agent_id) if e.agent_id else None,
                    "actor": e.actor, "detail": mask_data(e.detail),
                    "queue_label": labels.get(e.detail.get("queue"), e.detail.get("queue")) if e.detail.get("queue") else None}
                   for e in events],
    }  # fmt: skip


# ":int" so that another verb on a sibling path (GET …/batch-reply) answers 405, not this
# route's 403/422 for an id that is not a number.
@router.get("/api/v1/conversations/{conversation_id:int}", tags=["conversations"],
            summary="One conversation: messages, history across channels, notes, routing steps")  # fmt: skip
async def conversation_api(request: Request, conversation_id: int,
                           principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
                           db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    _, view = await visibility.readable(db, request, principal, conversation_id)
    return await conversation_detail(db, conversation_id, view)


@router.get("/api/v1/conversations/{conversation_id}/customer", tags=["conversations"],
            summary="Customer panel: masked profile, holdings, bills, past conversations, bindings")  # fmt: skip
async def customer_panel_api(
    request: Request, conversation_id: int,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank),
) -> dict[str, Any]:  # fmt: skip
    """Conversation content (past subjects): it needs conversations.read as well as
    customers.read, so a teller, who reads customers at the counter, does not read the
    contact centre's conversations through it (issue 21, finding 7)."""
    conversation, view = await visibility.readable(db, request, principal, conversation_id)
    return await service.customer_panel(db, conversation=conversation, bank=bank, view=view)


@router.get("/workspace/conversations/{conversation_id}", include_in_schema=False)
async def conversation_page(request: Request, conversation_id: int,
                            principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
                            db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank)) -> Response:  # fmt: skip
    notice = _NOTICES.get(request.query_params.get("notice", ""))
    with staff_errors():
        return await render_conversation(request, principal, db, bank, conversation_id,
                                         notice=gettext_(notice) if notice else None)  # fmt: skip


async def render_conversation(
    request: Request, principal: Principal, db: AsyncSession, bank: BankPort, conversation_id: int, *,
    draft: str = "", notice: str | None = None, problem: str | None = None, status_code: int = 200,
    card: str = "",
) -> Response:  # fmt: skip
    """The conversation page; ``draft`` refills the reply box (a reply that could not be sent
    is never lost), ``problem`` says why, in the reader's language, next to the claim button."""
    templates = formatting.desk_templates()

    conversation, view = await visibility.readable(db, request, principal, conversation_id)
    detail = await conversation_detail(db, conversation_id, view)
    panel = (
        await service.customer_panel(db, conversation=conversation, bank=bank, view=view)
        if principal.can(Permission.CUSTOMERS_READ)
        else None
    )
    _, router_ = await routing.router_for(db)
    agents = (await db.execute(select(Agent.id, Agent.display_name, Agent.presence)
                               .where(Agent.role.in_(routing.ROUTABLE_ROLES), Agent.is_active.is_(True))
                               .order_by(Agent.username))).all()  # fmt: skip
    scripts = await service.search_scripts(db, "", limit=100)
    task = await db.get(RoutingTask, conversation_id)
    mine = conversation.assigned_agent_id == principal.id
    claimable = (
        task is not None and task.state == TaskState.WAITING and principal.can(Permission.CONVERSATIONS_HANDLE)
        and principal.kind == "user"
    )  # fmt: skip
    offered = (
        task is not None and task.state == TaskState.RESERVED and task.agent_id == principal.id
    )
    # The three panes: my list (offers, mine, the queue), the transcript with the assistant's
    # part before the hand-off and why it happened, the customer's context.
    inbox = (
        await build_inbox(db, principal)
        if principal.can(Permission.CONVERSATIONS_HANDLE) and principal.kind == "user"
        else None
    )
    before = await transcript.before_handoff(db, conversation)
    handoff = await transcript.handoff_reason(db, conversation_id)
    return templates.TemplateResponse(request, "workspace/conversation.html", {
        "principal": principal, "csrf": csrf_token(request), "c": detail, "panel": panel, "scripts": scripts,
        "queues": list(router_.workflow.queues.values()), "agents": agents, "draft": draft, "notice": notice,
        "problem": problem, "claimable": claimable, "offered": offered, "card": card,
        "may_reply": mine or principal.can(Permission.QUEUES_SUPERVISE),
        "may_note": view.may_write(conversation, task),
        "heartbeat_seconds": heartbeat_seconds(request), "inbox": inbox, "before": before, "handoff": handoff,
    }, status_code=status_code)  # fmt: skip


# Messages shown on the conversation page, looked up through gettext when rendered.
_NOTICES = {"claimed": N_("Claimed: this conversation is now yours."),
            "sent": N_("Your reply was sent.")}  # fmt: skip
NOT_YOURS = N_(
    "This conversation is not assigned to you yet. Your reply is kept below as a draft: "
    "claim the conversation, then send it."
)
CLAIM_REFUSALS = {
    "taken": N_("%(holder)s has already taken this conversation. Your draft is kept below."),
    "not_waiting": N_("This conversation is no longer waiting in a queue. Your draft is kept below."),
    "no_skill": N_("You cannot claim this conversation: its queue “%(queue)s” needs a skill you do not have."),
    "full": N_("You have no free capacity on this channel; close or transfer a conversation first."),
    "closed": N_("This conversation is closed."),
    "not_routed": N_("This conversation is not in any queue."),
}  # fmt: skip


def claim_refusal(exc: routing.ClaimRefused, queue_label: str = "") -> str:
    template = CLAIM_REFUSALS.get(exc.reason)
    if template is None:
        return str(exc)
    return gettext_(template) % {
        "holder": exc.holder or gettext_("Another agent"),
        "queue": queue_label,
    }


async def claim_for(
    db: AsyncSession, principal: Principal, conversation_id: int
) -> RoutingTask | None:
    """Claims for the signed-in agent; None when it is already theirs. Raises ClaimRefused."""
    if principal.kind != "user":
        raise HTTPException(422, gettext_("An API key cannot claim conversations."))
    if await db.get(Conversation, conversation_id) is None:
        raise HTTPException(404, gettext_("No such conversation."))
    try:
        return await routing.claim(db, conversation_id=conversation_id, agent_id=principal.id, now=now_utc(),
                                   actor=principal.name)  # fmt: skip
    except routing.ClaimRefused as exc:
        if exc.reason == "yours":
            return None
        raise


async def _queue_label(db: AsyncSession, conversation_id: int) -> str:
    task = await db.get(RoutingTask, conversation_id)
    if task is None:
        return ""
    _, router_ = await routing.router_for(db)
    queue = router_.workflow.queues.get(task.queue)
    return queue.label if queue is not None and queue.label else task.queue


@router.post("/api/v1/conversations/{conversation_id}/claim", tags=["routing"],
             summary="Claim a waiting conversation (needs the queue's skill; exactly one of concurrent claims wins)")  # fmt: skip
async def claim_api(conversation_id: int, principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                    db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    try:
        await claim_for(db, principal, conversation_id)
    except routing.ClaimRefused as exc:
        raise HTTPException(
            exc.status, claim_refusal(exc, await _queue_label(db, conversation_id))
        ) from None
    task = await db.get(RoutingTask, conversation_id)
    assert task is not None
    return {
        "conversation_id": conversation_id,
        "state": task.state,
        "agent_id": task.agent_id,
        "queue": task.queue,
    }


@router.post("/workspace/conversations/{conversation_id}/claim", include_in_schema=False)
async def claim_form(
    request: Request, conversation_id: int,
    draft: Annotated[str, Form(alias="text", max_length=service.MAX_REPLY)] = "",
    card: Annotated[str, Form(max_length=4)] = "",
    reply_mode: Annotated[Literal["", "comment", "dm"], Form()] = "",
    csrf: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank),
) -> Response:  # fmt: skip
    """Claim from the conversation page or the inbox; with a draft, the claim and the reply
    happen in one transaction. A refused claim shows the page again with the draft kept."""
    check_csrf(request, csrf)
    try:
        await claim_for(db, principal, conversation_id)
    except routing.ClaimRefused as exc:
        message = claim_refusal(exc, await _queue_label(db, conversation_id))
        await db.rollback()
        return await render_conversation(request, principal, db, bank, conversation_id, draft=draft,
                                         problem=message, status_code=exc.status)  # fmt: skip
    if draft.strip():
        try:
            await _reply(db, principal, conversation_id, draft, bank, card, reply_mode)
        except HTTPException as exc:
            # Claimed, but the reply itself is wrong (e.g. an unknown variable): keep both.
            await db.commit()
            return await render_conversation(request, principal, db, bank, conversation_id, draft=draft,
                                             problem=for_staff(str(exc.detail)), status_code=exc.status_code,
                                             card=card)  # fmt: skip
        return RedirectResponse(
            f"/workspace/conversations/{conversation_id}?notice=sent", status_code=303
        )
    if back == "/workspace/inbox":
        return RedirectResponse(back, status_code=303)
    return RedirectResponse(
        f"/workspace/conversations/{conversation_id}?notice=claimed", status_code=303
    )


# -- replies, batch, notes, tags -----------------------------------------------------------------------------
class ReplyIn(BaseModel):
    body: str = Field(min_length=1, max_length=service.MAX_REPLY)
    card: str | None = Field(
        default=None, pattern=r"^\d{4}$", description="last four digits of the card to name"
    )
    reply_mode: Literal["comment", "dm"] | None = Field(
        default=None, description="Weibo: a public comment or a 私信; none: the channel's rule"
    )


class BatchIn(BaseModel):
    conversation_ids: list[int] = Field(min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=service.MAX_REPLY)
    script: str | None = Field(
        default=None, max_length=32, description="a script shortcut instead of body"
    )


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=service.MAX_REPLY)


class TagsIn(BaseModel):
    tags: list[Annotated[str, Field(max_length=32)]] = Field(max_length=20)


NOT_ASSIGNED = N_("This conversation is not assigned to you: claim it or accept the offer first.")


async def _may_reply(db: AsyncSession, principal: Principal, conversation_id: int) -> Conversation:
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    if conversation.assigned_agent_id != principal.id and not principal.can(
        Permission.QUEUES_SUPERVISE
    ):
        raise HTTPException(403, gettext_(NOT_ASSIGNED))
    return conversation


async def _reply(
    db: AsyncSession, principal: Principal, conversation_id: int, body: str, bank: BankPort,
    card: str | None = None, reply_mode: str | None = None,
) -> Message:  # fmt: skip
    conversation = await _may_reply(db, principal, conversation_id)
    try:
        text = await service.personalise(db, body, conversation=conversation, bank=bank,
                                         agent_name=principal.display_name, card=card or None)  # fmt: skip
        return await service.reply(db, conversation=conversation, agent_id=principal.id,
                                   body=text, now=now_utc(), reply_mode=reply_mode or None)  # fmt: skip
    except service.WorkspaceError as exc:
        raise _fail(exc) from None


class PreviewIn(BaseModel):
    body: str = Field(min_length=1, max_length=service.MAX_REPLY)
    card: str | None = Field(
        default=None, pattern=r"^\d{4}$", description="last four digits of the chosen card"
    )


@router.post("/api/v1/conversations/{conversation_id}/preview", tags=["conversations"],
             summary="The reply as the customer would get it: variables resolved, or the card choice needed")  # fmt: skip
async def preview_api(request: Request, conversation_id: int, body: PreviewIn,
                      principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                      db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank)) -> dict[str, Any]:  # fmt: skip
    # A preview reads the customer's data (name, cards): only for who may write to it.
    conversation = await visibility.writable(db, request, principal, conversation_id)
    try:
        result = await service.resolve_script(db, body.body, conversation=conversation, bank=bank,
                                              agent_name=principal.display_name, card=body.card)  # fmt: skip
    except service.WorkspaceError as exc:
        raise _fail(exc) from None
    return scripts.as_json(result)


@router.post("/workspace/conversations/{conversation_id}/preview", include_in_schema=False)
async def preview_fragment(
    request: Request, conversation_id: int,
    text: Annotated[str, Form(max_length=service.MAX_REPLY)] = "",
    card: Annotated[str, Form(max_length=4)] = "",
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank),
) -> Response:  # fmt: skip
    """htmx: the preview under the reply box, with the card choice when one is needed."""
    templates = formatting.desk_templates()

    check_csrf(request, csrf)
    conversation = await visibility.writable(db, request, principal, conversation_id)
    result, problem = None, None
    if text.strip():
        try:
            result = await service.resolve_script(db, text, conversation=conversation, bank=bank,
                                                  agent_name=principal.display_name, card=card or None)  # fmt: skip
        except service.WorkspaceError as exc:
            problem = for_staff(str(exc))
    return templates.TemplateResponse(request, "workspace/_preview.html",
                                      {"result": result, "problem": problem, "card": card})  # fmt: skip


@router.post("/api/v1/conversations/{conversation_id}/messages", status_code=201, tags=["conversations"],
             summary="Reply to the customer (recorded as accepted; channel delivery comes with the channels)")  # fmt: skip
async def reply_api(conversation_id: int, body: ReplyIn,
                    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank)) -> dict[str, Any]:  # fmt: skip
    message = await _reply(db, principal, conversation_id, body.body, bank, body.card,
                           body.reply_mode)  # fmt: skip
    return {"id": message.id, "body": message.body, "delivery_state": message.delivery_state}


async def _script_body(db: AsyncSession, shortcut: str | None, body: str | None) -> str:
    if shortcut:
        script = await db.scalar(
            select(ReplyScript).where(ReplyScript.shortcut == shortcut.lstrip("/"))
        )
        if script is None:
            raise HTTPException(422, f"script: no script with shortcut {shortcut!r}")
        return script.body
    if not body or not body.strip():
        raise HTTPException(422, "body: give a body or a script shortcut")
    return body


@router.post("/api/v1/conversations/batch-reply", tags=["conversations"],
             summary="One scripted reply, personalised per customer, to many conversations")  # fmt: skip
async def batch_api(body: BatchIn, principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank)) -> dict[str, Any]:  # fmt: skip
    text = await _script_body(db, body.script, body.body)
    try:
        result = await service.batch_reply(db, conversation_ids=body.conversation_ids, body=text, agent_id=principal.id,
                                           agent_name=principal.display_name, bank=bank, now=now_utc(),
                                           may_reply_to_any=principal.can(Permission.QUEUES_SUPERVISE))  # fmt: skip
    except service.WorkspaceError as exc:
        raise _fail(exc) from None
    return {"sent": result.sent, "skipped": {str(k): v for k, v in result.skipped.items()}}


@router.post("/api/v1/conversations/{conversation_id}/notes", status_code=201, tags=["conversations"],
             summary="A private note; @username mentions are recorded")  # fmt: skip
async def note_api(request: Request, conversation_id: int, body: NoteIn,
                   principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                   db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    await visibility.writable(db, request, principal, conversation_id)
    try:
        note = await service.add_note(
            db,
            conversation_id=conversation_id,
            author_id=principal.id,
            body=body.body,
            now=now_utc(),
        )
    except service.WorkspaceError as exc:
        raise _fail(exc) from None
    return {"id": note.id, "mentions": note.mentions}


@router.put(
    "/api/v1/conversations/{conversation_id}/tags",
    tags=["conversations"],
    summary="Replace the tags",
)
async def tags_api(conversation_id: int, body: TagsIn,
                   principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                   db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    await _may_reply(db, principal, conversation_id)
    try:
        return {"tags": await service.set_tags(db, conversation_id=conversation_id, tags=body.tags)}
    except service.WorkspaceError as exc:
        raise _fail(exc) from None


@router.post("/workspace/conversations/{conversation_id}/act", include_in_schema=False)
async def act_form(
    request: Request, conversation_id: int,
    action: Annotated[Literal["reply", "note", "tags"], Form()],
    text: Annotated[str, Form(max_length=service.MAX_REPLY)] = "",
    card: Annotated[str, Form(max_length=4)] = "",
    reply_mode: Annotated[Literal["", "comment", "dm"], Form()] = "",
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank),
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    if action == "reply":
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None:
            raise HTTPException(404, gettext_("No such conversation."))
        problem: str | None = None
        status_code = 409
        if conversation.assigned_agent_id != principal.id and not principal.can(
            Permission.QUEUES_SUPERVISE
        ):
            problem, status_code = gettext_(NOT_YOURS), 409
        else:
            try:
                await _reply(db, principal, conversation_id, text, bank, card, reply_mode)
            except HTTPException as exc:
                problem, status_code = for_staff(str(exc.detail)), exc.status_code
        if problem is not None:
            await db.rollback()
            return await render_conversation(request, principal, db, bank, conversation_id, draft=text,
                                             problem=problem, status_code=status_code, card=card)  # fmt: skip
        return RedirectResponse(f"/workspace/conversations/{conversation_id}", status_code=303)
    try:
        if action == "note":
            await visibility.writable(db, request, principal, conversation_id)
            await service.add_note(
                db,
                conversation_id=conversation_id,
                author_id=principal.id,
                body=text,
                now=now_utc(),
            )
        else:
            await _may_reply(db, principal, conversation_id)
            await service.set_tags(
                db, conversation_id=conversation_id, tags=text.replace("，", ",").split(",")
            )
    except service.WorkspaceError as exc:
        raise HTTPException(exc.status, for_staff(str(exc))) from None
    return RedirectResponse(f"/workspace/conversations/{conversation_id}", status_code=303)


@router.post("/workspace/batch-reply", include_in_schema=False)
async def batch_form(
    request: Request,
    ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    script: Annotated[str, Form(max_length=32)] = "",
    text: Annotated[str, Form(max_length=service.MAX_REPLY)] = "",
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    db: AsyncSession = DB_SESSION, bank: BankPort = Depends(get_bank),
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    with staff_errors():
        if not ids:
            raise HTTPException(422, "select at least one conversation")
        body = await _script_body(db, script or None, text or None)
        try:
            result = await service.batch_reply(db, conversation_ids=ids, body=body, agent_id=principal.id,
                                               agent_name=principal.display_name, bank=bank, now=now_utc(),
                                               may_reply_to_any=principal.can(Permission.QUEUES_SUPERVISE))  # fmt: skip
        except service.WorkspaceError as exc:
            raise _fail(exc) from None
    return RedirectResponse(
        f"/workspace/inbox?sent={len(result.sent)}&skipped={len(result.skipped)}", status_code=303
    )


# -- scripts (话术) ------------------------------------------------------------------------------------------
class ScriptIn(BaseModel):
    shortcut: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=service.MAX_REPLY)
    category: str = Field(default="", max_length=32)


class ScriptOut(BaseModel):
    id: int
    shortcut: str
    title: str
    body: str
    category: str


@router.get(
    "/api/v1/scripts", tags=["scripts"], summary="Search scripts by shortcut, title or text"
)
async def scripts_api(q: Annotated[str, Query(max_length=64)] = "",
                      _: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                      db: AsyncSession = DB_SESSION) -> list[ScriptOut]:  # fmt: skip
    return [ScriptOut(id=s.id, shortcut=s.shortcut, title=s.title, body=s.body, category=s.category)
            for s in await service.search_scripts(db, q)]  # fmt: skip


@router.get("/workspace/scripts", include_in_schema=False)
async def scripts_fragment(request: Request, q: Annotated[str, Query(max_length=64)] = "",
                           _: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                           db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    templates = formatting.desk_templates()

    return templates.TemplateResponse(
        request, "workspace/_scripts.html", {"scripts": await service.search_scripts(db, q)}
    )


@router.post("/api/v1/scripts", status_code=201, tags=["scripts"], summary="Add a script")
async def script_create_api(body: ScriptIn, _: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                            db: AsyncSession = DB_SESSION) -> ScriptOut:  # fmt: skip
    try:
        service.template_variables(body.body)
    except service.WorkspaceError as exc:
        raise HTTPException(422, f"body: {exc}") from None
    if await db.scalar(select(ReplyScript.id).where(ReplyScript.shortcut == body.shortcut)):
        raise HTTPException(409, f"shortcut {body.shortcut!r} is taken")
    script = ReplyScript(**body.model_dump())
    db.add(script)
    try:
        await db.flush()
    except IntegrityError:  # two admins adding the same shortcut at once (get_db rolls back)
        raise HTTPException(409, f"shortcut {body.shortcut!r} is taken") from None
    return ScriptOut(id=script.id, **body.model_dump())


@router.delete(
    "/api/v1/scripts/{script_id}", status_code=204, tags=["scripts"], summary="Delete a script"
)
async def script_delete_api(script_id: int, _: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                            db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    script = await db.get(ReplyScript, script_id)
    if script is None:
        raise HTTPException(404, f"no script {script_id}")
    await db.delete(script)
    return Response(status_code=204)
