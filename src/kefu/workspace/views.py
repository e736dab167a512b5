"""Home page, live counts, conversation list and customer look-up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort, NotFound
from kefu.conversations.models import Conversation
from kefu.privacy import mask_card, mask_id_number, mask_name, mask_phone, mask_text
from kefu.routing.models import RoutingTask
from kefu.vocabulary import ConversationStatus
from kefu.web.deps import DB_SESSION, Principal, csrf_token, get_bank, require
from kefu.workspace import formatting, homes, menus, visibility
from kefu.workspace.formatting import contact_label
from kefu.workspace.inbox import heartbeat_seconds
from kefu.workspace.presence import HANDLING_ROLES, REASONS, STATE_LABELS
from kefu.workspace.stats import home_counts

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home(
    request: Request,
    principal: Principal = Depends(require(Permission.HOME)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    templates = formatting.desk_templates()

    counts = await home_counts(db, bank)
    now = datetime.now(UTC)
    # Each role's own home (issue 23): an agent's queue, day and risks; a supervisor's board.
    handles = principal.can(Permission.CONVERSATIONS_HANDLE) and principal.kind == "user"
    agent = await homes.agent_home(db, principal, now) if handles else None
    board = await homes.supervisor_home(db) if principal.can(Permission.QUEUES_SUPERVISE) else None
    return templates.TemplateResponse(request, "workspace/home.html", {
        "principal": principal, "counts": counts, "csrf": csrf_token(request),
        "heartbeat_seconds": heartbeat_seconds(request), "agent": agent, "board": board,
        "links": homes.links(principal), "state_labels": STATE_LABELS,
    })  # fmt: skip


@router.get("/home/counts", include_in_schema=False)
async def home_counts_fragment(
    request: Request,
    principal: Principal = Depends(require(Permission.HOME)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    templates = formatting.desk_templates()

    counts = await home_counts(db, bank)
    return templates.TemplateResponse(request, "workspace/_counts.html", {"counts": counts})


@router.get("/api/v1/stats/home", tags=["workspace"], summary="Live counts shown on the home page")
async def home_counts_api(
    _: Principal = Depends(require(Permission.HOME)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> dict[str, int | None]:
    return (await home_counts(db, bank)).to_dict()


class ConversationOut(BaseModel):
    id: int
    channel: str
    contact: str
    status: str
    priority: int
    subject: str
    assigned_agent: str | None
    assigned_agent_name: str | None = None  # the display name staff pages show


async def _conversations(
    db: AsyncSession, view: visibility.Visibility, status: str | None, limit: int
) -> list[ConversationOut]:
    """The conversations ``view`` may read, subjects masked. Read a page at a time until
    ``limit`` are found: which ones an agent may read depends on the workflow's queues."""
    statement = (
        select(Conversation, RoutingTask, Agent.username, Agent.display_name)
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
        .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
        .order_by(Conversation.priority.desc(), Conversation.id)
    )
    if status:
        statement = statement.where(Conversation.status == status)
    else:
        statement = statement.where(Conversation.status != ConversationStatus.CLOSED.value)
    taps = await menus.click_labels(db)
    found: list[ConversationOut] = []
    # A supervisor reads every row: one page of exactly ``limit``; an agent may skip some.
    page, offset = (limit if view.everything else max(limit, 200)), 0
    while len(found) < limit:
        rows = (await db.execute(statement.offset(offset).limit(page))).all()
        found += [
            ConversationOut(
                id=c.id,
                channel=c.channel,
                contact=contact_label(c.channel, c.contact),
                status=c.status,
                priority=c.priority,
                subject=mask_text(menus.subject(taps, c.channel, c.subject)),
                assigned_agent=username,
                assigned_agent_name=name,
            )
            for c, task, username, name in rows
            if view.may_read(c, task)
        ]
        if len(rows) < page:
            break
        offset += page
    return found[:limit]


@router.get("/workspace/conversations", include_in_schema=False)
async def conversations_page(
    request: Request,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    templates = formatting.desk_templates()

    items = await _conversations(db, await visibility.of_request(db, request, principal), None, 200)
    return templates.TemplateResponse(
        request,
        "workspace/conversations.html",
        {"principal": principal, "items": items, "csrf": csrf_token(request)},
    )


@router.get(
    "/api/v1/conversations",
    tags=["conversations"],
    summary="Conversations, open ones by default, highest priority first",
)
async def conversations_api(
    request: Request,
    status: Annotated[ConversationStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
    db: AsyncSession = DB_SESSION,
) -> list[ConversationOut]:
    view = await visibility.of_request(db, request, principal)
    return await _conversations(db, view, status.value if status else None, limit)


class CustomerCard(BaseModel):
    """A customer as agents and tellers see them: personal data masked."""

    customer_no: str
    name: str
    mobile: str
    id_number: str
    city: str
    tier: str
    cards: list[dict[str, str]]


@router.get(
    "/api/v1/customers/{customer_no}",
    tags=["customers"],
    summary="One customer's profile and cards, masked",
)
async def customer_api(
    customer_no: str,
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
    bank: BankPort = Depends(get_bank),
) -> CustomerCard:
    if not (1 <= len(customer_no) <= 32 and customer_no.isalnum()):
        raise HTTPException(422, "customer_no: letters and digits, at most 32")
    try:
        profile = await bank.get_customer(customer_no)
        cards = await bank.list_cards(customer_no)
    except NotFound:
        raise HTTPException(404, f"no customer {customer_no}") from None
    return CustomerCard(
        customer_no=profile.customer_no,
        name=mask_name(profile.name),
        mobile=mask_phone(profile.mobile),
        id_number=mask_id_number(profile.id_number),
        city=profile.city,
        tier=profile.tier,
        cards=[
            {
                "card_no": mask_card(c.card_no),
                "kind": c.kind,
                "product": c.product,
                "status": c.status,
            }
            for c in cards
        ],
    )


@router.get("/supervisor/agents", include_in_schema=False)
async def agents_page(
    request: Request,
    principal: Principal = Depends(require(Permission.AGENTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    templates = formatting.desk_templates()

    agents = (await db.scalars(select(Agent).order_by(Agent.role, Agent.username))).all()
    return templates.TemplateResponse(
        request,
        "workspace/agents.html",
        {
            "principal": principal,
            "agents": agents,
            "csrf": csrf_token(request),
            "state_labels": STATE_LABELS,
            "reasons": REASONS,
            "handling": HANDLING_ROLES,
        },
    )


class AgentOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    team: str | None
    presence: str
    skills: dict[str, int]


@router.get("/api/v1/agents", tags=["agents"], summary="Agents with team, presence and skills")
async def agents_api(
    _: Principal = Depends(require(Permission.AGENTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> list[AgentOut]:
    agents = (await db.scalars(select(Agent).order_by(Agent.username))).all()
    return [
        AgentOut(
            id=a.id,
            username=a.username,
            display_name=a.display_name,
            role=a.role,
            team=a.team.name if a.team else None,
            presence=a.presence,
            skills={s.skill.name: s.proficiency for s in a.skills},
        )
        for a in agents
    ]


# The live inbox, conversation view and agent actions live in their own module.
from kefu.workspace.inbox import router as _inbox_router  # noqa: E402

router.include_router(_inbox_router)
