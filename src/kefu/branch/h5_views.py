"""Taking a ticket in the WeChat hall (H5, inside WeChat): the follower's branches with each
one's predicted wait, and a remote ticket keyed by their openid, so "3 ahead" comes as a
WeChat template message (kefu.branch.notices).

The page lives under the hall's path (``/h5/{account}/queue``) so the hall's session cookie —
path ``/h5/{account}``, set after WeChat's OAuth — names the follower; without it the follower
is sent through the hall's sign-in first. Its forms carry the hall's CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.bank.port import BankPort
from kefu.branch import notices, queue, remote
from kefu.branch.services import SERVICES
from kefu.branch.waits import branch_waits
from kefu.branch.web import bank_branches, over_address_limit, templates
from kefu.hall.h5 import auth
from kefu.hall.wechat import OfficialAccount, account_named
from kefu.web.deps import DB_SESSION, client_ip, get_bank

router = APIRouter()
TICKET_LIMIT, TICKET_WINDOW = 5, 600.0  # tickets per address per ten minutes, as on the map


def _account(request: Request, name: str) -> OfficialAccount:
    account = account_named(request.app.state.settings, name)
    if account is None:
        raise HTTPException(404, f"no WeChat official account {name!r}")
    return account


async def _page(
    request: Request, db: AsyncSession, bank: BankPort, account: OfficialAccount, service: str,
    *, result: dict | None = None, error: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    branches = await bank_branches(bank)
    waits = await branch_waits(db, branches, service)
    return templates().TemplateResponse(
        request, "branch/h5_queue.html",
        {"principal": None, "account": account.name, "services": SERVICES, "service": service,
         "waits": waits, "result": result, "error": error,
         "csrf": auth.form_token(request, account.name)},
        status_code=status,
    )  # fmt: skip


@router.get("/h5/{account}/queue", include_in_schema=False)
async def queue_page(
    request: Request,
    account: str,
    service: Annotated[str, Query(max_length=16)] = "cash",
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    acct = _account(request, account)
    if auth.session_openid(request, acct.name) is None:
        return auth.login_redirect(request, acct)
    return await _page(request, db, bank, acct, service if service in SERVICES else "cash")


@router.post("/h5/{account}/queue", include_in_schema=False)
async def queue_take(
    request: Request,
    account: str,
    branch: Annotated[str, Form(max_length=16)],
    service: Annotated[str, Form(max_length=16)],
    notify: Annotated[bool, Form()] = False,
    csrf: Annotated[str, Form(max_length=400)] = "",
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    acct = _account(request, account)
    openid = auth.session_openid(request, acct.name)
    if openid is None or not auth.check_form_token(request, acct.name, csrf):
        raise HTTPException(401, "页面已过期，请从公众号菜单重新打开")
    shown = service if service in SERVICES else "cash"
    if branch not in {b.code for b in await bank_branches(bank)}:
        return await _page(request, db, bank, acct, shown, error="没有这个网点", status=404)
    if await over_address_limit(
        request, "branch-h5", tries=TICKET_LIMIT, per_seconds=TICKET_WINDOW
    ):
        return await _page(request, db, bank, acct, shown, error="取号过于频繁，请稍后再试",
                           status=429)  # fmt: skip
    try:
        async with db.begin_nested():
            ticket = await queue.take_ticket(
                db, branch_code=branch, service_code=service, source="h5",
                customer_key=notices.wechat_key(acct.name, openid),
                notify_ahead=3 if notify else None,
            )  # fmt: skip
        result = {"ticket": ticket, "ahead": await queue.ahead_of(db, ticket), "notify": notify}
        await remote.dispatch(db, branch)
    except queue.QueueError as exc:
        return await _page(request, db, bank, acct, shown, error=exc.message, status=409)
    await record(db, actor=f"wechat:{acct.name}", action="branch.ticket.remote",
                 target=f"{branch}/{ticket.label}", details={"source": "h5"},
                 ip=client_ip(request))  # fmt: skip
    return await _page(request, db, bank, acct, shown, result=result)
