"""The admin page of the Weibo accounts (``/admin/weibo``): each account's authorisation (the
token's state and expiry, a button that sends the admin to Weibo's OAuth2 page, the redirect
that takes the code back), what polling is doing (each stream's checkpoint and why it waits),
and the replies that failed. Permission: social.channels (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.channels.weibo import oauth
from kefu.channels.weibo.api import WeiboApiError
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.models import (
    OutState,
    ReceivedState,
    WeiboCheckpoint,
    WeiboOutbound,
    WeiboReceived,
    WeiboToken,
)
from kefu.logs import get_logger
from kefu.web.deps import DB_SESSION, Principal, require
from kefu.web.templating import templates

log = get_logger(__name__)
router = APIRouter()
UI = "/admin/weibo"
STATE_KEY = "weibo_oauth_state"


def _account(request: Request, name: str) -> WeiboAccount:
    found = next((a for a in request.app.state.settings.weibo_accounts if a.name == name), None)
    if found is None:
        raise HTTPException(404, f"no Weibo account named {name!r}")
    return found


def _runtime(request: Request) -> Any:
    runtime = getattr(request.app.state, "weibo_runtime", None)
    if runtime is None:
        raise HTTPException(503, "the Weibo channel is not running in this process")
    return runtime


def redirect_uri(request: Request, account: WeiboAccount) -> str:
    return account.redirect_uri or str(request.base_url).rstrip("/") + f"{UI}/{account.name}/oauth"


async def _overview(db: AsyncSession, account: WeiboAccount) -> dict[str, Any]:
    token = await db.get(WeiboToken, account.name)
    checkpoints = (await db.scalars(
        select(WeiboCheckpoint).where(WeiboCheckpoint.account == account.name)
        .order_by(WeiboCheckpoint.stream)
    )).all()  # fmt: skip
    received = dict((await db.execute(
        select(WeiboReceived.kind, func.count()).where(WeiboReceived.account == account.name)
        .group_by(WeiboReceived.kind)
    )).all())  # fmt: skip
    stuck = await db.scalar(
        select(func.count()).select_from(WeiboReceived)
        .where(WeiboReceived.account == account.name, WeiboReceived.state == ReceivedState.FAILED)
    )  # fmt: skip
    failed = (await db.scalars(
        select(WeiboOutbound).where(WeiboOutbound.account == account.name,
                                    WeiboOutbound.state == OutState.FAILED)
        .order_by(WeiboOutbound.id.desc()).limit(10)
    )).all()  # fmt: skip
    waiting = await db.scalar(
        select(func.count()).select_from(WeiboOutbound)
        .where(WeiboOutbound.account == account.name,
               WeiboOutbound.state.in_((OutState.ACCEPTED, OutState.UNKNOWN, OutState.SENDING)))
    )  # fmt: skip
    return {"account": account, "token": token, "checkpoints": checkpoints,
            "received": received, "stuck": stuck or 0, "failed": failed,
            "waiting": waiting or 0}  # fmt: skip


@router.get(UI, include_in_schema=False)
async def accounts_page(
    request: Request,
    principal: Principal = Depends(require(Permission.SOCIAL_CHANNELS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    accounts = request.app.state.settings.weibo_accounts
    rows = [await _overview(db, a) for a in accounts]
    return templates.TemplateResponse(
        request, "weibo/accounts.html",
        {"principal": principal, "rows": rows, "notice": request.query_params.get("notice"),
         "problem": request.query_params.get("problem")},
    )  # fmt: skip


@router.get(UI + "/{name}/authorize", include_in_schema=False)
async def authorize(
    request: Request, name: str, _: Principal = Depends(require(Permission.SOCIAL_CHANNELS))
) -> Response:
    """To Weibo's consent page, signed in as the official account; back at ``/oauth``."""
    account = _account(request, name)
    api = _runtime(request).apis[account.name]
    state = oauth.new_state()
    request.session[STATE_KEY] = f"{account.name}:{state}"
    return RedirectResponse(api.authorize_url(redirect_uri(request, account), state),
                            status_code=303)  # fmt: skip


@router.get(UI + "/{name}/oauth", include_in_schema=False)
async def oauth_callback(
    request: Request, name: str, principal: Principal = Depends(require(Permission.SOCIAL_CHANNELS))
) -> Response:
    """Weibo's redirect with the code: checked against the state this admin's session was
    sent with (a code from elsewhere is refused), traded for the token, stored."""
    account = _account(request, name)
    runtime = _runtime(request)
    expected = request.session.pop(STATE_KEY, None)
    code, state = request.query_params.get("code", ""), request.query_params.get("state", "")
    if request.query_params.get("error"):
        return _back("denied")
    if not code or not state or expected != f"{account.name}:{state}":
        log.warning("weibo_oauth_state_mismatch", account=name, by=principal.name)
        return _back("state")
    try:
        await oauth.authorise(runtime.apis[account.name], code, redirect_uri(request, account),
                              actor=principal.name)  # fmt: skip
    except WeiboApiError as exc:
        log.warning("weibo_oauth_failed", account=name, code=exc.code, detail=exc.message)
        return _back("exchange")
    await runtime.token_stored(account.name)
    return RedirectResponse(f"{UI}?notice=authorised", status_code=303)


def _back(problem: str) -> Response:
    return RedirectResponse(f"{UI}?problem={problem}", status_code=303)
