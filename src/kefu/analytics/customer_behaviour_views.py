"""The customer view of behaviour (kefu.analytics.customer_view) where people meet it:

- in the agent's customer panel, as a fragment the workspace page loads after itself (a slow
  event store never holds the conversation up), for whoever may read conversations and
  customers (conversations.read and customers.read) — the conversation's visibility rules
  apply;
- on the analyst's customer page (reports.read), looked up by customer number; each look-up
  of a named customer's behaviour is audited.

Replay links show only to roles that may watch replays (analytics.replay).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import customer_view, replay
from kefu.analytics.customer_numbers import masked
from kefu.analytics.enrich import customer_hash
from kefu.analytics.service import analytics_of, hash_key
from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.identity.models import Customer
from kefu.web.deps import DB_SESSION, Principal, csrf_token, require
from kefu.workspace import visibility
from kefu.workspace.formatting import desk_templates

router = APIRouter()
Days = Annotated[int, Query(ge=1, le=90)]
CustomerNo = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]


async def behaviour_of(
    request: Request, db: AsyncSession, customer_no: str, days: int
) -> customer_view.Behaviour:
    app = request.app
    sites = [s.key for s in app.state.settings.analytics.sites]
    hashed = customer_hash(hash_key(app.state.settings), customer_no)
    found = await run_in_threadpool(customer_view.read, analytics_of(app).store, sites, hashed,
                                    datetime.now(UTC).date(), days)  # fmt: skip
    recorded: set[tuple[str, str]] = set()
    for site in {v.site for v in found.visits}:
        ids = [v.session_id for v in found.visits if v.site == site]
        recorded |= {(site, r.session_id) for r in await replay.sessions(db, site, only=ids)}
    for v in found.visits:
        v.replay = (v.site, v.session_id) in recorded
    return found


def _as_dict(found: customer_view.Behaviour) -> dict[str, Any]:
    return {
        "days": found.days, "summary": found.summary,
        "failed": [{"form": t.form, "words": t.words, "attempts": t.attempts, "step": t.step,
                    "steps": t.steps, "field": t.field, "device": t.device,
                    "last": t.last.isoformat(), "line": t.line} for t in found.failed],
        "errors": [{"text": m.text, "status": m.status, "page": m.page, "device": m.device,
                    "count": m.count, "last": m.last.isoformat()} for m in found.errors],
        "visits": [{"site": v.site, "session_id": v.session_id, "started": v.started.isoformat(),
                    "seconds": v.seconds, "pages": v.pages, "landing": v.landing,
                    "device": v.device, "outcome": v.outcome, "errors": v.errors,
                    "replay": v.replay} for v in found.visits],
    }  # fmt: skip


@router.get("/workspace/conversations/{conversation_id}/behaviour", include_in_schema=False)
async def panel_fragment(
    request: Request, conversation_id: int, days: Days = 30,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
) -> Response:  # fmt: skip
    """The behaviour part of the agent's customer panel. It needs conversations.read as well
    as customers.read, as the panel's API does: a teller reads customers at the counter, not
    the contact centre's conversations."""
    templates = desk_templates()  # its time filters

    conversation, _ = await visibility.readable(db, request, principal, conversation_id)
    customer = (
        await db.get(Customer, conversation.customer_id) if conversation.customer_id else None
    )
    found = await behaviour_of(request, db, customer.bank_customer_no, days) if customer else None
    return templates.TemplateResponse(request, "analytics/customer_behaviour_panel.html", {
        "b": found, "known": customer is not None,
        "may_replay": principal.can(Permission.REPLAY_VIEW),
    })  # fmt: skip


@router.get("/api/v1/analytics/customer-behaviour", tags=["analytics"],
            summary="One customer's visits, failed tasks and errors met (audited)")  # fmt: skip
async def behaviour_api(
    request: Request, customer_no: CustomerNo, days: Days = 30,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    found = await behaviour_of(request, db, customer_no, days)
    await _audit(db, request, principal, customer_no)
    return {"customer": masked(customer_no), **_as_dict(found)}


@router.get("/analytics/customer-behaviour", include_in_schema=False)
async def behaviour_page(
    request: Request, customer_no: Annotated[str, Query(max_length=32)] = "",
    days: Days = 30, db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    """The analyst's customer page: enter a customer number, read what they did."""
    templates = desk_templates()  # its time filters

    customer_no = customer_no.strip()
    if customer_no and not customer_no.isalnum():
        raise HTTPException(422, "customer_no: letters and digits, at most 32")
    found = await behaviour_of(request, db, customer_no, days) if customer_no else None
    if found is not None:
        await _audit(db, request, principal, customer_no)
    return templates.TemplateResponse(request, "analytics/customer_behaviour.html", {
        "principal": principal, "csrf": csrf_token(request), "page": "customer-behaviour",
        "customer_no": customer_no, "days": days, "b": found,
        "may_replay": principal.can(Permission.REPLAY_VIEW),
    })  # fmt: skip


async def _audit(db: AsyncSession, request: Request, principal: Principal, number: str) -> None:
    await record(db, actor=principal.name, action="analytics.customer.view",
                 target=f"customer:{number}", details={},
                 ip=request.client.host if request.client else None)  # fmt: skip
    await db.commit()
