"""Login and logout pages (session cookie for people; systems use API keys instead)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.auth import sessions
from kefu.auth.permissions import Permission
from kefu.auth.service import authenticate
from kefu.vocabulary import Presence
from kefu.web.deps import Principal, check_csrf, client_ip, csrf_token, get_db, require
from kefu.web.i18n import gettext_ as _
from kefu.web.templating import templates

router = APIRouter(tags=["auth"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: an attacker-supplied absolute URL must not turn login into a redirector.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(
        request,
        "auth/login.html",
        {"csrf": csrf_token(request), "next": _safe_next(next), "error": None},
    )


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    csrf: str = Form(""),
    next: str = Form("/"),
    db: AsyncSession = Depends(get_db),
) -> Response:
    check_csrf(request, csrf)
    settings = request.app.state.settings
    result = await authenticate(
        db,
        username=username,
        password=password,
        max_failures=settings.login_max_failures,
        lockout_seconds=settings.login_lockout_seconds,
        ip=client_ip(request),
        ip_max_failures=settings.login_ip_max_failures,
    )
    if result.agent is None:
        if result.reason == "locked":
            error = _(
                "Too many failed logins. This account is locked; try again later or ask an administrator."
            )
        elif result.reason == "inactive":
            error = _("This account is disabled.")
        else:
            error = _("Wrong username or password.")
        await db.commit()  # keep the failure count and the audit entry
        return templates.TemplateResponse(
            request,
            "auth/login.html",
            {"csrf": csrf_token(request), "next": _safe_next(next), "error": error},
            status_code=401 if result.reason != "locked" else 423,
        )
    token = await sessions.start(
        db, agent_id=result.agent.id, max_age=settings.session_max_age, ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )  # fmt: skip
    await db.commit()
    request.session.clear()  # a new session id on login prevents session fixation
    request.session["uid"] = result.agent.id
    request.session["sid"] = token
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(
    request: Request, csrf: str = Form(""), db: AsyncSession = Depends(get_db)
) -> Response:
    check_csrf(request, csrf)
    uid = request.session.get("uid")
    if uid is not None:
        agent = await db.get(Agent, uid)
        if agent is not None:
            agent.presence = Presence.OFFLINE.value
            await record(db, actor=agent.username, action="logout")
    await sessions.end(db, request.session.get("sid"))  # a copied cookie dies with it
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/api/v1/users/{username}/sessions/revoke", include_in_schema=True, tags=["users"],
             summary="End every session of a user (they must log in again)")  # fmt: skip
async def revoke_sessions(
    username: str,
    principal: Principal = Depends(require(Permission.USERS_MANAGE)),
    db: AsyncSession = Depends(get_db),
) -> dict[str, int]:
    agent = await db.scalar(select(Agent).where(Agent.username == username))
    if agent is None:
        raise HTTPException(404, f"no user {username!r}")
    revoked = await sessions.end_all(db, agent.id)
    await record(db, actor=principal.name, action="user.sessions_revoked",
                 target=f"agent:{agent.id}", details={"sessions": revoked})  # fmt: skip
    return {"revoked": revoked}
