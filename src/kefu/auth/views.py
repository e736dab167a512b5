"""Login and logout pages (session cookie for people; systems use API keys instead)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.auth import sessions, totp
from kefu.auth.models import LoginThrottle, StaffTotp
from kefu.auth.pages import login_response, safe_next, start_session
from kefu.auth.permissions import Permission
from kefu.auth.service import UserError, authenticate, claim_try, signed_in
from kefu.auth.service import reset_totp as reset_user_totp
from kefu.auth.sso_views import router as sso_router
from kefu.db.base import utcnow
from kefu.vocabulary import Presence
from kefu.web.deps import DB_SESSION, Principal, check_csrf, client_ip, csrf_token, require
from kefu.web.i18n import gettext_ as _
from kefu.web.templating import templates

router = APIRouter(tags=["auth"], include_in_schema=False)
MFA_SECONDS = 300  # between the password and the authenticator's code


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return login_response(request, next)


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    csrf: str = Form(""),
    next: str = Form("/"),
    db: AsyncSession = DB_SESSION,
) -> Response:
    settings = request.app.state.settings
    if settings.oidc is not None and not settings.oidc.password_login:
        error = _("Password sign-in is turned off here; use single sign-on.")
        return login_response(request, next, error, 403)
    check_csrf(request, csrf)
    result = await authenticate(
        db,
        username=username,
        password=password,
        max_failures=settings.login_max_failures,
        lockout_seconds=settings.login_lockout_seconds,
        ip=client_ip(request),
        ip_max_failures=settings.login_ip_max_failures,
        totp_roles=settings.totp_required_roles,
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
        return login_response(request, next, error, 401 if result.reason != "locked" else 423)
    if result.reason == "totp":
        # The password was right; the session starts only after the authenticator's code.
        await db.commit()
        request.session.clear()
        request.session["mfa"] = {"uid": result.agent.id, "at": int(time.time()),
                                  "next": safe_next(next)}  # fmt: skip
        return RedirectResponse("/login/totp", status_code=303)
    return await start_session(request, db, result.agent.id, safe_next(next))


def _pending(request: Request) -> dict[str, Any] | None:
    """The login waiting for its second factor, if it is recent."""
    pending = request.session.get("mfa")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > MFA_SECONDS:
        request.session.pop("mfa", None)
        return None
    return pending


async def _totp_page(
    request: Request, db: AsyncSession, uid: int, error: str | None = None, status: int = 200
) -> Response:
    agent = await db.get(Agent, uid)
    row = await db.get(StaffTotp, uid)
    enrolling = row is None or row.enabled_at is None
    if row is None:
        row = StaffTotp(agent_id=uid, secret=totp.new_secret(), created_at=utcnow())
        db.add(row)
        await db.flush()
    context = {"csrf": csrf_token(request), "error": error, "enrolling": enrolling}
    if enrolling and agent is not None:
        context |= {"secret": row.secret, "grouped": totp.grouped(row.secret),
                    "uri": totp.provisioning_uri(row.secret, agent.username)}  # fmt: skip
        context["qr"] = totp.qr_svg(context["uri"])
    return templates.TemplateResponse(request, "auth/totp.html", context, status_code=status)


@router.get("/login/totp")
async def totp_page(request: Request, db: AsyncSession = DB_SESSION) -> Response:
    pending = _pending(request)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    return await _totp_page(request, db, pending["uid"])


@router.post("/login/totp")
async def totp_check(
    request: Request,
    code: str = Form("", max_length=16),
    csrf: str = Form(""),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    pending = _pending(request)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    settings = request.app.state.settings
    uid, now = pending["uid"], utcnow()
    agent = await db.get(Agent, uid)
    row = await db.get(StaffTotp, uid)
    if agent is None or row is None:
        request.session.pop("mfa", None)
        return RedirectResponse("/login", status_code=303)
    # Codes are guessed no faster than passwords: the same atomic counter, per account.
    claim = await claim_try(db, f"totp:{uid}", settings.login_max_failures,
                            settings.login_lockout_seconds, now)  # fmt: skip
    if claim is None:
        await record(db, actor=agent.username, action="login.refused_locked", ip=client_ip(request),
                     details={"step": "totp"})  # fmt: skip
        await db.commit()
        request.session.pop("mfa", None)
        error = _(
            "Too many failed logins. This account is locked; try again later or ask an administrator."
        )
        return login_response(request, "/", error, 423)
    step = totp.verify(row.secret, code, now, row.last_step)
    used = None
    if step is not None:  # claim the step: a code works once, even in parallel
        used = (await db.execute(
            update(StaffTotp)
            .where(StaffTotp.agent_id == uid,
                   or_(StaffTotp.last_step.is_(None), StaffTotp.last_step < step))
            .values(last_step=step).returning(StaffTotp.agent_id)
        )).scalar_one_or_none()  # fmt: skip
    if used is None:
        await record(db, actor=agent.username, action="login.totp_failed", ip=client_ip(request))
        await db.commit()
        return await _totp_page(request, db, uid, _("Wrong or already used code."), 401)
    if row.enabled_at is None:
        await db.execute(update(StaffTotp).where(StaffTotp.agent_id == uid).values(enabled_at=now))
        await record(db, actor=agent.username, action="totp.enrolled", target=f"agent:{uid}")
    await db.execute(delete(LoginThrottle).where(LoginThrottle.scope == f"totp:{uid}"))
    await record(db, actor=agent.username, action="login.totp_ok", ip=client_ip(request))
    await signed_in(db, agent, ip=client_ip(request), now=now)
    return await start_session(request, db, uid, pending.get("next") or "/")


@router.post("/logout")
async def logout(request: Request, csrf: str = Form(""), db: AsyncSession = DB_SESSION) -> Response:
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
    db: AsyncSession = DB_SESSION,
) -> dict[str, int]:
    agent = await db.scalar(select(Agent).where(Agent.username == username))
    if agent is None:
        raise HTTPException(404, f"no user {username!r}")
    revoked = await sessions.end_all(db, agent.id)
    await record(db, actor=principal.name, action="user.sessions_revoked",
                 target=f"agent:{agent.id}", details={"sessions": revoked})  # fmt: skip
    return {"revoked": revoked}


@router.post("/api/v1/users/{username}/totp/reset", include_in_schema=True, tags=["users"],
             summary="Remove a user's authenticator (they enrol again at their next login)")  # fmt: skip
async def reset_totp(
    username: str,
    principal: Principal = Depends(require(Permission.USERS_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> dict[str, bool]:
    try:
        had = await reset_user_totp(db, username=username, actor=principal.name)
    except UserError:
        raise HTTPException(404, f"no user {username!r}") from None
    return {"reset": had}


# Single sign-on (OIDC), when configured: its routes join this router (kefu.auth.sso_views).
router.include_router(sso_router)
