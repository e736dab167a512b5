"""Routing over HTTP: hand-off (intake), offers, transfer, escalation, closing, the
supervisor view, the workflow editor with dry-run, webhooks; and the background ticker."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.bank.port import BankError, BankPort, NotFound
from kefu.conversations.models import Conversation
from kefu.identity.models import Customer
from kefu.logs import get_logger
from kefu.net.guard import SafeHttpUrl
from kefu.privacy import mask_text
from kefu.routing import diagram, editor, service, sla
from kefu.routing.engine import Router
from kefu.routing.intake import open_conversation
from kefu.routing.models import RoutingEvent, RoutingTask, TaskState, WorkflowVersion
from kefu.routing.rules import Workflow, WorkflowError, compile_workflow, load_text
from kefu.vocabulary import Channel, Presence
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, get_bank, require
from kefu.web.i18n import gettext_
from kefu.web.inputs import MAX_ID
from kefu.webhooks.models import WebhookDelivery, WebhookSubscription
from kefu.workspace import formatting
from kefu.workspace import presence as agent_states
from kefu.workspace.messages import staff_errors

log = get_logger(__name__)


def now_utc() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = getattr(app.state, "settings", None)
    if settings is not None:
        formatting.configure(getattr(settings, "timezone", "Asia/Shanghai"))  # staff pages
    yield  # the routing ticker is a worker of kefu.runtime (kefu.routing.ticker)


router = APIRouter(lifespan=lifespan)


def fail(exc: Exception) -> HTTPException:
    return HTTPException(getattr(exc, "status", 422), str(exc))


# -- intake ------------------------------------------------------------------------------------------
class IntakeIn(BaseModel):
    channel: Channel
    contact: str = Field(default="", max_length=128)
    text: str = Field(min_length=1, max_length=4000)
    subject: str = Field(default="", max_length=200)
    intent: str | None = Field(default=None, max_length=32)
    customer_no: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    sentiment: float | None = Field(default=None, ge=-1, le=1)
    keywords: list[Annotated[str, Field(max_length=32)]] = Field(default=[], max_length=50)
    crisis: bool = False
    tier: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=32)


class RoutingOut(BaseModel):
    conversation_id: int
    state: str
    rule: str
    queue: str
    priority: int
    agent_id: int | None
    escalated: bool
    tags: list[str]
    disposition: str | None


def routing_out(task: RoutingTask) -> RoutingOut:
    return RoutingOut(conversation_id=task.conversation_id, state=task.state, rule=task.rule, queue=task.queue,
                      priority=task.priority, agent_id=task.agent_id, escalated=task.escalated,
                      tags=task.tags or [], disposition=task.disposition)  # fmt: skip


@router.post("/api/v1/conversations", status_code=201, tags=["routing"],
             summary="Hand a conversation to routing (channels, integrations)")  # fmt: skip
async def intake_api(
    body: IntakeIn,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_INTAKE)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> RoutingOut:
    now = now_utc()
    if body.customer_no:
        await _know_customer(db, bank, body.customer_no)
    attributes = {"sentiment": body.sentiment, "keywords": body.keywords, "crisis": body.crisis,
                  "tier": body.tier, "region": body.region}  # fmt: skip
    _, task = await open_conversation(
        db, channel=body.channel.value, contact=body.contact, text=body.text, subject=body.subject,
        intent=body.intent, customer_no=body.customer_no, attributes=attributes, now=now, actor=principal.name,
    )  # fmt: skip
    await service.assign_waiting(db, now=now)
    await db.refresh(task)
    return routing_out(task)


async def _know_customer(db: AsyncSession, bank: BankPort, customer_no: str) -> None:
    """A customer the bank knows but the service centre has not met yet gets a record (only the
    key and service attributes: names and cards stay in the bank); an unknown number is a 422."""
    if await db.scalar(select(Customer.id).where(Customer.bank_customer_no == customer_no)):
        return
    try:
        profile = await bank.get_customer(customer_no)
    except NotFound:
        raise HTTPException(422, f"customer_no: the bank has no customer {customer_no}") from None
    except BankError as exc:
        raise HTTPException(502, f"the bank's systems did not answer: {exc}") from None
    db.add(Customer(bank_customer_no=profile.customer_no, tier=profile.tier, region=profile.city))
    await db.flush()


# -- actions on one conversation ---------------------------------------------------------------------
class TransferIn(BaseModel):
    to_agent_id: int | None = None
    to_queue: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def one_target(self) -> TransferIn:
        if (self.to_agent_id is None) == (self.to_queue is None):
            raise ValueError("give exactly one of to_agent_id or to_queue")
        return self


class EscalateIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    to_agent_id: int | None = None


class CloseIn(BaseModel):
    disposition: str | None = Field(default=None, max_length=32)


class RejectIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class PendingIn(BaseModel):
    waiting: bool


async def _visible(db: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    return conversation


async def _act(
    db: AsyncSession, principal: Principal, conversation_id: int, action: str, body: Any
) -> RoutingTask:
    """The one place every action (API and forms) goes through."""
    await _visible(db, conversation_id)
    now = now_utc()
    try:
        if action == "accept":
            task = await service.accept(
                db,
                conversation_id=conversation_id,
                agent_id=principal.id,
                now=now,
                actor=principal.name,
            )
        elif action == "reject":
            task = await service.reject(db, conversation_id=conversation_id, agent_id=principal.id, now=now,
                                        actor=principal.name, reason=body.reason)  # fmt: skip
            await service.assign_waiting(db, now=now)
        elif action == "transfer":
            task = await service.transfer(db, conversation_id=conversation_id, now=now, actor=principal.name,
                                          to_agent_id=body.to_agent_id, to_queue=body.to_queue, note=body.note)  # fmt: skip
            await service.assign_waiting(db, now=now)
        elif action == "escalate":
            task = await service.escalate(db, conversation_id=conversation_id, now=now, actor=principal.name,
                                          reason=body.reason, to_agent_id=body.to_agent_id)  # fmt: skip
        elif action == "close":
            await service.close(
                db,
                conversation_id=conversation_id,
                now=now,
                actor=principal.name,
                disposition=body.disposition,
            )
            await service.assign_waiting(db, now=now)
            task = await db.get(RoutingTask, conversation_id)  # type: ignore[assignment]
        else:
            await service.set_waiting_on_customer(db, conversation_id=conversation_id, waiting=body.waiting, now=now,
                                                  actor=principal.name)  # fmt: skip
            task = await db.get(RoutingTask, conversation_id)  # type: ignore[assignment]
    except service.RoutingError as exc:
        raise fail(exc) from None
    if task is None:
        raise HTTPException(404, f"conversation {conversation_id} is not being routed")
    return task


def _mine_or_supervisor(principal: Principal, task: RoutingTask | None) -> None:
    """Agents act on conversations offered or assigned to them; supervisors on any."""
    if principal.can(Permission.QUEUES_SUPERVISE):
        return
    if task is None or task.agent_id != principal.id:
        raise HTTPException(403, "this conversation is not assigned to you")


@router.post(
    "/api/v1/conversations/{conversation_id}/accept", tags=["routing"], summary="Accept an offer"
)
async def accept_api(conversation_id: int, principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                     db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    return routing_out(await _act(db, principal, conversation_id, "accept", None))


@router.post(
    "/api/v1/conversations/{conversation_id}/reject", tags=["routing"], summary="Decline an offer"
)
async def reject_api(conversation_id: int, body: RejectIn,
                     principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                     db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    return routing_out(await _act(db, principal, conversation_id, "reject", body))


@router.post("/api/v1/conversations/{conversation_id}/transfer", tags=["routing"],
             summary="Transfer to an agent (online, with room) or a queue")  # fmt: skip
async def transfer_api(conversation_id: int, body: TransferIn,
                       principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                       db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    _mine_or_supervisor(principal, await db.get(RoutingTask, conversation_id))
    return routing_out(await _act(db, principal, conversation_id, "transfer", body))


@router.post("/api/v1/conversations/{conversation_id}/escalate", tags=["routing"],
             summary="Escalate to a supervisor with a reason (升级上报)")  # fmt: skip
async def escalate_api(conversation_id: int, body: EscalateIn,
                       principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                       db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    _mine_or_supervisor(principal, await db.get(RoutingTask, conversation_id))
    return routing_out(await _act(db, principal, conversation_id, "escalate", body))


@router.post(
    "/api/v1/conversations/{conversation_id}/close",
    tags=["routing"],
    summary="Close with a disposition code",
)
async def close_api(conversation_id: int, body: CloseIn,
                    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                    db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    _mine_or_supervisor(principal, await db.get(RoutingTask, conversation_id))
    return routing_out(await _act(db, principal, conversation_id, "close", body))


@router.post("/api/v1/conversations/{conversation_id}/pending", tags=["routing"],
             summary="Waiting on the customer (pauses SLA clocks) or back to open")  # fmt: skip
async def pending_api(conversation_id: int, body: PendingIn,
                      principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
                      db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    _mine_or_supervisor(principal, await db.get(RoutingTask, conversation_id))
    return routing_out(await _act(db, principal, conversation_id, "pending", body))


@router.post("/workspace/conversations/{conversation_id}/routing", include_in_schema=False)
async def routing_form(
    request: Request,
    conversation_id: int,
    action: Annotated[
        Literal["accept", "reject", "transfer", "escalate", "close", "pending", "resume"], Form()
    ],
    csrf: Annotated[str, Form()] = "",
    to_agent_id: Annotated[str, Form()] = "",
    to_queue: Annotated[str, Form()] = "",
    text: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form()] = "",
    wrap_up: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    with staff_errors():  # the page shows errors in the reader's language
        body: Any = None
        if (
            action in ("transfer", "escalate", "close", "pending", "resume")
            and action != "escalate"
        ):
            _mine_or_supervisor(principal, await db.get(RoutingTask, conversation_id))
        if action == "transfer":
            try:
                body = TransferIn(
                    to_agent_id=int(to_agent_id) if to_agent_id else None,
                    to_queue=to_queue or None,
                    note=text,
                )
            except ValueError as exc:
                raise HTTPException(
                    422, str(exc).splitlines()[-1] if str(exc) else "invalid transfer"
                ) from None
        elif action == "escalate":
            _mine_or_supervisor(principal, await db.get(RoutingTask, conversation_id))
            if not text.strip():
                raise HTTPException(422, "reason: an escalation needs a reason")
            body = EscalateIn(reason=text, to_agent_id=None)
        elif action == "close":
            body = CloseIn(disposition=text[:32] or None)
        elif action == "reject":
            body = RejectIn(reason=text[:200])
        elif action in ("pending", "resume"):
            body = PendingIn(waiting=action == "pending")
            action = "pending"
        if action == "close" and wrap_up and principal.kind == "user":
            # Wrap-up (话后处理): not ready until the agent says 就绪; set before closing, so the
            # round that closing runs offers them nothing.
            agent = await db.get(Agent, principal.id)
            if agent is not None:
                await agent_states.set_state(
                    db, agent, Presence.AWAY, now=now_utc(), reason="after_call_work"
                )
        await _act(db, principal, conversation_id, action, body)
        target = (
            back
            if back.startswith("/") and not back.startswith("//")
            else f"/workspace/conversations/{conversation_id}"
        )
        return RedirectResponse(target, status_code=303)


# -- supervisor ------------------------------------------------------------------------------------------
async def supervisor_snapshot(db: AsyncSession) -> dict[str, Any]:
    """Queues (waiting, longest wait), agents (presence, load), SLA breaches and escalations."""
    _, router_ = await service.router_for(db)
    now = now_utc()
    queues: dict[str, dict[str, Any]] = {
        name: {"name": name, "label": q.label, "waiting": 0, "longest_wait": 0, "active": 0}
        for name, q in router_.workflow.queues.items()
    }
    rows = (
        await db.scalars(
            select(RoutingTask).where(RoutingTask.state.in_((TaskState.WAITING, *TaskState.ACTIVE)))
        )
    ).all()
    for row in rows:
        current = router_.target(service.as_task(row), now.timestamp()).queue
        entry = queues.setdefault(
            current,
            {"name": current, "label": current, "waiting": 0, "longest_wait": 0, "active": 0},
        )
        if row.state == TaskState.WAITING:
            entry["waiting"] += 1
            entry["longest_wait"] = max(
                entry["longest_wait"], int((now - sla.utc(row.enqueued_at)).total_seconds())
            )
        else:
            entry["active"] += 1
    workers = await service.load_workers(db, router_.workflow)
    names = dict((await db.execute(select(Agent.id, Agent.display_name))).all())
    states = select(Agent.id, Agent.presence, Agent.presence_reason)
    presence = {i: (p, r) for i, p, r in (await db.execute(states)).all()}
    agents = [
        {"id": w.id, "name": names.get(w.id, ""), "username": w.attributes["username"],
         "presence": presence.get(w.id, (None, None))[0], "reason": presence.get(w.id, (None, None))[1],
         "load": sum(w.load.values()), "capacity": sum(w.capacity.values()), "by_channel": dict(w.load)}
        for w in sorted(workers, key=lambda w: w.attributes["username"])
    ]  # fmt: skip
    labels = {name: q.label or name for name, q in router_.workflow.queues.items()}
    people = dict((await db.execute(select(Agent.username, Agent.display_name))).all())
    # The queue a conversation is in now (its current target), as the inbox and the queue table
    # count it, not the one it entered by.
    current_queue = {
        r.conversation_id: router_.target(service.as_task(r), now.timestamp()).queue for r in rows
    }
    flagged = [
        {"conversation_id": r.conversation_id, "queue": current_queue[r.conversation_id],
         "queue_label": labels.get(current_queue[r.conversation_id], current_queue[r.conversation_id]),
         "breached": r.breached, "escalated": r.escalated,
         "agent": names.get(r.agent_id) if r.agent_id else None, "state": r.state}
        for r in rows if r.breached or r.escalated
    ]  # fmt: skip
    moves = [
        {"conversation_id": e.conversation_id, "kind": e.kind, "at": e.at.isoformat(), "actor": e.actor,
         "actor_name": people.get(e.actor, e.actor),
         "to": names.get(e.agent_id) if e.agent_id else labels.get(e.detail.get("queue"), e.detail.get("queue")),
         "from": names.get(e.detail.get("from_agent_id")) if e.detail.get("from_agent_id") else None,
         "reason": mask_text(e.detail.get("reason") or e.detail.get("note") or "") or None}
        for e in await db.scalars(
            select(RoutingEvent).where(RoutingEvent.kind.in_(("transferred", "escalated", "offer_expired", "rejected")))
            .order_by(RoutingEvent.id.desc()).limit(20)
        )
    ]  # fmt: skip
    return {"queues": list(queues.values()), "agents": agents, "flagged": flagged, "moves": moves}


@router.get("/api/v1/supervisor/overview", tags=["supervisor"],
            summary="Queues with waiting counts and longest wait, agents with state and load, SLA breaches")  # fmt: skip
async def supervisor_api(_: Principal = Depends(require(Permission.QUEUES_SUPERVISE)),
                         db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    return await supervisor_snapshot(db)


@router.post("/api/v1/conversations/{conversation_id}/reassign", tags=["supervisor"],
             summary="Reassign a conversation to an agent or a queue")  # fmt: skip
async def reassign_api(conversation_id: int, body: TransferIn,
                       principal: Principal = Depends(require(Permission.QUEUES_SUPERVISE)),
                       db: AsyncSession = DB_SESSION) -> RoutingOut:  # fmt: skip
    return routing_out(await _act(db, principal, conversation_id, "transfer", body))


@router.get("/supervisor/queues", include_in_schema=False)
async def supervisor_page(request: Request, principal: Principal = Depends(require(Permission.QUEUES_SUPERVISE)),
                          db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    templates = formatting.desk_templates()
    from kefu.workspace.inbox import heartbeat_seconds

    snapshot = await supervisor_snapshot(db)
    return templates.TemplateResponse(request, "routing/supervisor.html",
                                      {"principal": principal, "csrf": csrf_token(request), **snapshot, **_labels(),
                                       "heartbeat_seconds": heartbeat_seconds(request)})  # fmt: skip


def _labels() -> dict[str, Any]:
    return {"state_labels": agent_states.STATE_LABELS, "reasons": agent_states.REASONS}


@router.get("/supervisor/queues/fragment", include_in_schema=False)
async def supervisor_fragment(request: Request, principal: Principal = Depends(require(Permission.QUEUES_SUPERVISE)),
                              db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    templates = formatting.desk_templates()

    snapshot = await supervisor_snapshot(db)
    return templates.TemplateResponse(request, "routing/_supervisor.html",
                                      {"principal": principal, "csrf": csrf_token(request), **snapshot, **_labels()})  # fmt: skip


# -- workflow editor --------------------------------------------------------------------------------------
# A workflow text's limit, in characters, such that the longest allowed text still fits the
# server's 1 MiB body limit however it is written (JSON escapes an astral character as 12
# bytes): one character over it is answered 422, never 413. Real workflows are a few KiB.
TEXT_MAX = 80_000


class WorkflowIn(BaseModel):
    document: dict[str, Any] | None = None
    text: str | None = Field(default=None, max_length=TEXT_MAX, description="JSON or YAML")
    comment: str = Field(default="", max_length=200)
    # Strict and bounded like every id the API takes: "3", 3.0 or true are not a version.
    base_version: int | None = Field(
        default=None, ge=1, le=2_147_483_647, strict=True,
        description="the version this edit started from; refused (409) if replaced",
    )  # fmt: skip


class DryRunIn(BaseModel):
    conversation: dict[str, Any] = Field(
        description="channel, intent, sentiment, tier, keywords, region, crisis, text"
    )
    document: dict[str, Any] | None = None
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    waited_seconds: float = Field(default=0, ge=0, le=86_400, strict=True)  # no true/false


def _document(document: dict[str, Any] | None, text: str | None) -> dict[str, Any] | None:
    return document if document is not None else (load_text(text) if text else None)


def workflow_problem(exc: WorkflowError) -> HTTPException:
    return HTTPException(422, "; ".join(f"{p.path}: {p.message}" for p in exc.problems))


@router.get(
    "/api/v1/routing/workflow",
    tags=["routing admin"],
    summary="The current workflow and its version",
)
async def workflow_api(_: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                       db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    version, workflow = await service.current_workflow(db)
    versions = (
        await db.scalars(select(WorkflowVersion).order_by(WorkflowVersion.version.desc()).limit(50))
    ).all()
    return {"version": version, "document": workflow.document,
            "versions": [{"version": v.version, "comment": v.comment, "created_by": v.created_by,
                          "created_at": v.created_at.isoformat()} for v in versions]}  # fmt: skip


@router.put(
    "/api/v1/routing/workflow",
    tags=["routing admin"],
    summary="Validate and save a new workflow version",
    responses={409: {"description": "base_version was replaced by a newer version meanwhile"}},
)
async def workflow_save_api(body: WorkflowIn, principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                            db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    from kefu.web.errors import problem

    try:
        document = _document(body.document, body.text)
        if document is None:
            raise HTTPException(422, "give document (JSON) or text (JSON or YAML)")
        if body.base_version is None:
            row = await service.save_workflow(
                db, document=document, comment=body.comment, actor=principal.name
            )
        else:
            row = await editor.save_version(db, document=document, base=body.base_version,
                                            comment=body.comment, actor=principal.name)  # fmt: skip
    except WorkflowError as exc:
        return problem(
            422, str(exc), title="Invalid workflow", problems=[p.to_dict() for p in exc.problems]
        )  # type: ignore[return-value]
    except editor.VersionConflict as exc:
        return problem(409, f"version {exc.current} was saved by {exc.by} after version "
                       f"{exc.base} that this edit started from", title="Workflow changed",
                       current_version=exc.current)  # type: ignore[return-value]  # fmt: skip
    return {"version": row.version}


def dry_run(
    router_: Router, attributes: dict[str, Any], waited: float, workers: list[Any]
) -> dict[str, Any]:
    decision = router_.classify(attributes)
    rule = router_.rule(decision.rule)
    from kefu.routing.engine import Task

    task = Task(0, str(attributes.get("channel", "webchat")), decision.rule, decision.priority, 0.0)
    current = router_.target(task, waited)
    eligible = router_.rank_workers(task, workers, waited)
    return {
        "rule": decision.rule,
        "priority": decision.priority,
        "effective_priority": router_.effective_priority(task, waited),
        "targets": [
            {
                "queue": t.queue,
                "agents": t.label,
                "from_second": s if s != float("inf") else None,
                "timeout": t.timeout,
            }
            for t, s in zip(rule.targets, rule.starts, strict=True)
        ],  # fmt: skip
        "current_target": {"queue": current.queue, "agents": current.label},
        "eligible_agents_now": [w.attributes["username"] for w in eligible],
    }


@router.post("/api/v1/routing/dry-run", tags=["routing admin"],
             summary="Where would this conversation go (current or a draft workflow)?")  # fmt: skip
async def dry_run_api(body: DryRunIn, _: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                      db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    try:
        document = _document(body.document, body.text)
        workflow = (
            compile_workflow(document)
            if document is not None
            else (await service.current_workflow(db))[1]
        )
    except WorkflowError as exc:
        raise workflow_problem(exc) from None
    workers = await service.load_workers(db, workflow)
    attributes = {
        "keywords": [],
        "sentiment": 0.0,
        "crisis": False,
        "text": "",
        **body.conversation,
    }
    return dry_run(Router(workflow), attributes, body.waited_seconds, workers)


# -- the workflow page: diagram, rule forms, dry run, YAML for experts ------------------------------------
SAMPLE_DEFAULT = {"channel": "weibo", "text": "信用卡被盗刷了", "keywords": "盗刷", "sentiment": "-0.8",
                  "tier": "gold", "intent": "", "region": "", "hour": "", "waited": "0", "crisis": ""}  # fmt: skip


def sample_attributes(form: dict[str, str]) -> tuple[dict[str, Any], float, dict[str, str]]:
    """The dry run's sample from its form fields: conversation attributes, seconds waited, and
    problems keyed by field (the form is shown again with them)."""
    errors: dict[str, str] = {}
    attributes: dict[str, Any] = {"channel": form.get("channel") or "webchat",
                                  "text": form.get("text", ""), "crisis": bool(form.get("crisis"))}  # fmt: skip
    attributes["keywords"] = [k for k in re.split(r"[\s,，、;；]+", form.get("keywords", "")) if k]
    for name in ("intent", "tier", "region"):
        attributes[name] = form.get(name, "").strip() or None
    numbers = {"sentiment": (-1.0, 1.0), "hour": (0, 23), "waited": (0, 86_400)}
    values: dict[str, float | None] = {}
    for name, (low, high) in numbers.items():
        raw = form.get(name, "").strip()
        try:
            values[name] = float(raw) if raw else None
            ok = values[name] is None or low <= values[name] <= high  # type: ignore[operator]
        except ValueError:
            values[name], ok = None, False
        if not ok:
            errors[name] = gettext_("A number from %(low)s to %(high)s.") % {
                "low": low,
                "high": high,
            }
    attributes["sentiment"] = values["sentiment"] if values["sentiment"] is not None else 0.0
    if values["hour"] is not None:
        attributes["hour"] = int(values["hour"])
    return attributes, values["waited"] or 0.0, errors


def _rows(fields: dict[str, str]) -> int:
    """Target rows to show: the filled ones and one blank for adding a target."""
    used = [j for j in range(editor.MAX_TARGETS) if fields.get(f"t{j}_queue")]
    return min(editor.MAX_TARGETS, (max(used) + 2) if used else 1)


async def _workflow_page(request: Request, principal: Principal, db: AsyncSession, *, text: str | None = None,
                         problems: list[dict[str, str]] | None = None, result: dict[str, Any] | None = None,
                         sample: str = "", saved: int | None = None, status: int | None = None,
                         edit: str | None = None, fields: dict[str, str] | None = None,
                         field_errors: dict[str, str] | None = None, conflict: editor.VersionConflict | None = None,
                         base: int | None = None, draft: Workflow | None = None,
                         trace: diagram.Trace | None = None, try_form: dict[str, str] | None = None,
                         try_errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    import yaml

    templates = formatting.desk_templates()

    version, workflow = await service.current_workflow(db)
    versions = (
        await db.scalars(select(WorkflowVersion).order_by(WorkflowVersion.version.desc()).limit(20))
    ).all()
    if text is None:
        text = yaml.safe_dump(workflow.document, allow_unicode=True, sort_keys=False)
    sample = sample or json.dumps({"channel": "weibo", "text": "信用卡被盗刷了", "keywords": ["盗刷"],
                                   "sentiment": -0.8, "tier": "gold"}, ensure_ascii=False)  # fmt: skip
    shown = draft or workflow
    document = workflow.document
    if edit is not None and fields is None:
        try:
            fields = editor.rule_form(document, edit)
        except KeyError:
            edit = None  # a stale link to a rule that is gone: show the page without a form
    return templates.TemplateResponse(request, "routing/workflow.html", {
        "principal": principal, "csrf": csrf_token(request), "version": version, "versions": versions,
        "text": text, "problems": problems or [], "result": result, "sample": sample, "saved": saved,
        "diagram": diagram.build(shown, trace, gettext_), "draft": draft is not None,
        "edit": edit, "fields": fields or {}, "field_errors": field_errors or {},
        "rows": _rows(fields or {}), "queues": [q["name"] for q in document["queues"]],
        "rule_count": len(document.get("rules", [])), "conflict": conflict,
        "base": base if base is not None else version, "try": try_form or SAMPLE_DEFAULT,
        "try_errors": try_errors or {}, "channels": [c.value for c in Channel], "trace": trace,
    }, status_code=status or (422 if problems or field_errors else 200))  # fmt: skip


@router.get("/routing/workflow", include_in_schema=False)
async def workflow_page(request: Request, principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                        db: AsyncSession = DB_SESSION,
                        edit: Annotated[str | None, Query(max_length=16, pattern=r"^(\d{1,3}|default|new)$")] = None,
                        ) -> Response:  # fmt: skip
    return await _workflow_page(request, principal, db, edit=edit)


def _conflict_page_args(exc: editor.VersionConflict) -> dict[str, Any]:
    return {"conflict": exc, "base": exc.base, "status": 409}


@router.post("/routing/workflow", include_in_schema=False)
async def workflow_form(
    request: Request,
    text: Annotated[str, Form(max_length=200_000)],
    action: Annotated[Literal["save", "dry_run"], Form()],
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=200)] = "",
    sample: Annotated[str, Form(max_length=4000)] = "",
    base_version: Annotated[int | None, Form()] = None,
    principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The YAML editor (experts): save as a new version, or try a sample on the draft."""
    check_csrf(request, csrf)
    try:
        document = load_text(text)
        workflow = compile_workflow(document)
        if action == "save":
            base = (
                base_version
                if base_version is not None
                else (await service.current_workflow(db))[0]
            )
            try:
                row = await editor.save_version(
                    db, document=document, base=base, comment=comment, actor=principal.name
                )
            except editor.VersionConflict as exc:
                return await _workflow_page(request, principal, db, text=text, sample=sample,
                                            **_conflict_page_args(exc))  # fmt: skip
            return await _workflow_page(request, principal, db, saved=row.version)
        try:
            attributes = json.loads(sample or "{}")
            assert isinstance(attributes, dict)
        except (ValueError, AssertionError):
            return await _workflow_page(request, principal, db, text=text, sample=sample, base=base_version,
                                        problems=[{"path": "sample", "message": "the sample must be a JSON object"}])  # fmt: skip
        attributes = {"keywords": [], "sentiment": 0.0, "crisis": False, "text": "", **attributes}
        result = dry_run(
            Router(workflow), attributes, 0.0, await service.load_workers(db, workflow)
        )
        return await _workflow_page(request, principal, db, text=text, sample=sample, result=result,
                                    base=base_version, draft=workflow,
                                    trace=diagram.trace(workflow, attributes))  # fmt: skip
    except WorkflowError as exc:
        return await _workflow_page(request, principal, db, text=text, sample=sample, base=base_version,
                                    problems=editor.describe_all(exc.problems))  # fmt: skip


EDIT_KEY = re.compile(r"\d{1,3}|default|new")
RULE_FIELDS = ("name", "when", "priority") + tuple(
    f"t{j}_{f}" for j in range(editor.MAX_TARGETS) for f in editor.TARGET_FIELDS
)


@router.post("/routing/workflow/rules", include_in_schema=False)
async def workflow_rule_form(
    request: Request,
    key: Annotated[str, Form(max_length=16, pattern=r"^(\d{1,3}|default|new)$")],
    op: Annotated[Literal["save", "up", "down", "delete"], Form()],
    base_version: Annotated[int, Form()],
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=200)] = "",
    principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """A rule edited on the diagram: saved, moved or deleted, each as a new version."""
    check_csrf(request, csrf)
    form = await request.form()
    fields = {name: str(form.get(name, "")) for name in RULE_FIELDS}
    _, workflow = await service.current_workflow(db)
    document = workflow.document
    page = {"edit": key, "fields": fields, "base": base_version}
    try:
        if op == "save":
            rule = editor.rule_from_form(fields, is_default=key == "default")
            edited = editor.put_rule(document, key, rule)
            default_comment = gettext_("rule %(name)s edited") % {
                "name": rule.get("name", "default")
            }
        elif op == "delete":
            edited = editor.delete_rule(document, key)
            default_comment = gettext_("rule %(name)s deleted") % {
                "name": document["rules"][int(key)]["name"]
            }
        else:
            edited = editor.move_rule(document, key, -1 if op == "up" else 1)
            default_comment = gettext_("rule %(name)s moved") % {
                "name": document["rules"][int(key)]["name"]
            }
        row = await editor.save_version(db, document=edited, base=base_version,
                                        comment=comment or default_comment, actor=principal.name)  # fmt: skip
    except KeyError:
        raise HTTPException(
            404, gettext_("There is no such rule in the current version.")
        ) from None
    except editor.FormError as exc:
        return await _workflow_page(request, principal, db, field_errors=exc.fields, **page)
    except editor.VersionConflict as exc:
        return await _workflow_page(request, principal, db, **{**page, **_conflict_page_args(exc)})
    except WorkflowError as exc:
        target_key = key if key != "new" else str(len(document.get("rules", [])))
        by_field, others = editor.field_errors(exc.problems, target_key)
        return await _workflow_page(request, principal, db, field_errors=by_field,
                                    problems=editor.describe_all(others), **page)  # fmt: skip
    if op in ("up", "down"):
        key = str(
            max(0, min(len(edited.get("rules", [])) - 1, int(key) + (-1 if op == "up" else 1)))
        )
    elif op == "delete" or key == "new":
        key = None if op == "delete" else str(len(edited["rules"]) - 1)
    return await _workflow_page(request, principal, db, saved=row.version, edit=key)


@router.post("/routing/workflow/try", include_in_schema=False)
async def workflow_try_form(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The dry run on the diagram: a sample conversation through the current version, its path
    highlighted."""
    check_csrf(request, csrf)
    form = await request.form()
    try_form = {name: str(form.get(name, "")) for name in SAMPLE_DEFAULT}
    attributes, waited, errors = sample_attributes(try_form)
    if errors:
        return await _workflow_page(request, principal, db, try_form=try_form, try_errors=errors,
                                    status=422)  # fmt: skip
    _, workflow = await service.current_workflow(db)
    result = dry_run(Router(workflow), attributes, waited, await service.load_workers(db, workflow))
    # The rule form stays open beside the result: edit, try, edit again.
    edit = str(form.get("edit", ""))
    return await _workflow_page(request, principal, db, try_form=try_form, result=result,
                                trace=diagram.trace(workflow, attributes, waited),
                                edit=edit if EDIT_KEY.fullmatch(edit) else None)  # fmt: skip


# -- webhooks ---------------------------------------------------------------------------------------------
class WebhookIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    url: SafeHttpUrl  # refuses loopback, private and metadata addresses (SSRF)
    events: list[
        Literal[
            "conversation.created",
            "conversation.assigned",
            "conversation.closed",
            "message.created",
            "sms.status",  # every SMS's state changes (not part of "*": too many)
            "sms.mo",  # texts to partners' sub-codes
            "*",
        ]
    ] = Field(min_length=1)


@router.get(
    "/api/v1/webhooks", tags=["webhooks"], summary="Webhook subscriptions and recent deliveries"
)
async def webhooks_api(_: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                       db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    subs = (await db.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))).all()
    counts = dict(
        (
            await db.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            )
        ).all()
    )
    return {"subscriptions": [{"id": s.id, "name": s.name, "url": s.url, "events": s.events, "active": s.is_active}
                              for s in subs], "deliveries": counts}  # fmt: skip


@router.post("/api/v1/webhooks", status_code=201, tags=["webhooks"],
             summary="Subscribe a URL; the answer holds the signing secret (shown once)")  # fmt: skip
async def webhook_create_api(body: WebhookIn, principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                             db: AsyncSession = DB_SESSION) -> dict[str, Any]:  # fmt: skip
    secret = secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        name=body.name, url=str(body.url), secret=secret, events=list(body.events)
    )
    db.add(sub)
    await db.flush()
    await record(
        db,
        actor=principal.name,
        action="webhook.create",
        target=str(sub.id),
        details={"url": str(body.url)},
    )
    return {"id": sub.id, "secret": secret, "events": sub.events}


@router.delete(
    "/api/v1/webhooks/{webhook_id}", status_code=204, tags=["webhooks"], summary="Unsubscribe"
)
async def webhook_delete_api(webhook_id: Annotated[int, Path(ge=1, le=MAX_ID)], principal: Principal = Depends(require(Permission.ROUTING_MANAGE)),
                             db: AsyncSession = DB_SESSION) -> Response:  # fmt: skip
    sub = await db.get(WebhookSubscription, webhook_id)
    if sub is None:
        raise HTTPException(404, f"no webhook {webhook_id}")
    sub.is_active = False
    await record(db, actor=principal.name, action="webhook.delete", target=str(webhook_id))
    return Response(status_code=204)
