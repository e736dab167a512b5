"""The remote agent's session page for a VTM or hybrid counter's customer (kefu.branch.remote):
the ticket, the pre-filled form tied to it (masked, as at the counter's desk), the customer
panel, the video hook, and "finish the session".

Who may see it is whoever may read the conversation in the workspace (its assigned agent,
supervisors); who may finish it is its assigned agent or a supervisor. Opening a form's
values here is audited like the desk's (``branch.form.view``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort
from kefu.branch import queue, remote
from kefu.branch.forms.definitions import definitions
from kefu.branch.forms.views import form_cipher, masked
from kefu.branch.models import BranchCounter, BranchForm
from kefu.branch.services import PRIORITY_LABELS, SERVICES
from kefu.branch.web import bank_branches, templates
from kefu.web.deps import (
    DB_SESSION,
    Principal,
    check_csrf,
    client_ip,
    csrf_token,
    get_bank,
    require,
)
from kefu.workspace import service as workspace
from kefu.workspace import visibility

router = APIRouter()


async def _form(request: Request, db: AsyncSession, ticket_id: int) -> dict[str, Any] | None:
    form = await db.scalar(
        select(BranchForm).where(BranchForm.ticket_id == ticket_id).order_by(BranchForm.id.desc())
    )
    if form is None:
        return None
    definition = definitions().get(form.kind)
    if definition is None:
        return None
    values = json.loads(form_cipher(request).decrypt(form.payload))
    return {"row": form, "definition": definition, "shown": masked(definition, values)}


def _may_finish(principal: Principal, assigned: int | None) -> bool:
    return assigned == principal.id or principal.can(Permission.QUEUES_SUPERVISE)


@router.get("/branch/remote/{conversation_id}", include_in_schema=False)
async def session_page(
    request: Request,
    conversation_id: int,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    conversation, view = await visibility.readable(db, request, principal, conversation_id)
    ticket = await remote.ticket_of(db, conversation_id)
    if ticket is None:
        raise HTTPException(404, "这个会话不是网点远程柜员的会话")
    counter = await db.get(BranchCounter, ticket.counter_id) if ticket.counter_id else None
    branch = next((b for b in await bank_branches(bank) if b.code == ticket.branch_code), None)
    form = await _form(request, db, ticket.id)
    if form is not None:
        await record(db, actor=principal.name, action="branch.form.view",
                     target=form["row"].reference, details={"via": "remote_session"},
                     ip=client_ip(request))  # fmt: skip
    panel = (
        await workspace.customer_panel(db, conversation=conversation, bank=bank, view=view)
        if principal.can(Permission.CUSTOMERS_READ)
        else None
    )
    template = request.app.state.settings.branch.vtm_video_url
    video = (
        template.format(branch=ticket.branch_code, counter=counter.number if counter else "",
                        ticket=ticket.label, conversation=conversation_id)
        if template else None
    )  # fmt: skip
    return templates().TemplateResponse(
        request, "branch/remote_session.html",
        {"principal": principal, "conversation": conversation, "ticket": ticket,
         "counter": counter, "branch": branch, "service": SERVICES[ticket.service],
         "priority": PRIORITY_LABELS.get(ticket.priority_kind, ticket.priority_kind),
         "form": form, "panel": panel, "video": video,
         "taken_at": ticket.issued_at.astimezone(queue.LOCAL_ZONE).strftime("%H:%M"),
         "may_finish": ticket.state == "called"
         and _may_finish(principal, conversation.assigned_agent_id),
         "csrf": csrf_token(request)},
    )  # fmt: skip


@router.post("/branch/remote/{conversation_id}/finish", include_in_schema=False)
async def finish_session(
    request: Request,
    conversation_id: int,
    outcome: Annotated[str, Form(max_length=16)] = "done",
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.CONVERSATIONS_HANDLE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    conversation, _ = await visibility.readable(db, request, principal, conversation_id)
    if not _may_finish(principal, conversation.assigned_agent_id):
        raise HTTPException(403, "只有接待这位客户的远程柜员可以结束会话")
    try:
        async with db.begin_nested():
            ticket = await remote.finish(db, conversation_id=conversation_id,
                                         actor=principal.name, outcome=outcome)  # fmt: skip
    except queue.QueueError as exc:
        raise HTTPException(409, exc.message) from None
    await record(db, actor=principal.name, action="branch.remote.finish",
                 target=f"{ticket.branch_code}/{ticket.label}", details={"outcome": outcome},
                 ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/workspace/inbox", 303)
