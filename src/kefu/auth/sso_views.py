"""Single sign-on routes: ``/login/sso`` sends the browser to the provider, and
``/login/sso/callback`` takes it back (``kefu.auth.oidc`` checks, ``kefu.auth.sso`` decides).

Both are public by nature: they are the way in. Neither trusts what arrives: the callback's
``state`` must be the one this browser was given (kept in its signed session cookie, ten
minutes at most, used once), and the ID token must pass every check before anyone is signed in.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.models import StaffTotp
from kefu.auth.oidc import OidcClient, Pending, SsoError
from kefu.auth.pages import safe_next, start_session
from kefu.auth.service import signed_in
from kefu.auth.sso import provider_mfa, sign_in
from kefu.logs import get_logger
from kefu.web.deps import DB_SESSION, client_ip
from kefu.web.i18n import gettext_ as _
from kefu.web.templating import templates

router = APIRouter(tags=["auth"], include_in_schema=False)
log = get_logger(__name__)
SSO_SECONDS = 600  # between leaving for the provider and coming back


def _client(request: Request) -> OidcClient:
    settings = request.app.state.settings.oidc
    if settings is None:
        raise HTTPException(404, "single sign-on is not configured")
    client = getattr(request.app.state, "oidc_client", None)
    if client is None or client.settings is not settings:
        client = OidcClient(settings)  # keeps the discovery document and keys between sign-ins
        request.app.state.oidc_client = client
    return client


def _redirect_uri(request: Request) -> str:
    configured = request.app.state.settings.oidc.redirect_url
    return configured or str(request.url_for("sso_callback"))


def _message(reason: str) -> tuple[str, int]:
    """What the person is told, in words, and the status; the audit keeps the detail."""
    if reason == "no_role":
        return _("Your account has no role in kefu. Ask an administrator to add you to one of "
                 "kefu's groups in the directory."), 403  # fmt: skip
    if reason == "inactive":
        return _("This account is disabled."), 403
    if reason == "name_taken":
        return _("A kefu account with this name already exists and is not linked to single "
                 "sign-on. Ask an administrator."), 403  # fmt: skip
    if reason in ("not_provisioned", "bad_username"):
        return _("You have no kefu account yet. Ask an administrator to create one."), 403
    if reason.startswith("provider_"):
        return _("The sign-in service cannot be reached now. Try again later."), 502
    if reason in ("state", "expired"):
        return _("This sign-in was not started here or has expired. Please start again."), 400
    if reason == "denied":
        return _("The sign-in service did not let you in."), 401
    return _("The sign-in service's answer could not be verified. Sign-in refused."), 401


def _refused(request: Request, reason: str) -> Response:
    message, status = _message(reason)
    return templates.TemplateResponse(request, "auth/sso_refused.html", {"error": message},
                                      status_code=status)  # fmt: skip


@router.get("/login/sso")
async def sso_start(request: Request, next: str | None = None) -> Response:
    client = _client(request)
    try:
        url, pending = await client.begin(_redirect_uri(request))
    except SsoError as exc:
        log.warning("sso.provider", reason=exc.reason, detail=exc.detail)
        return _refused(request, exc.reason)
    request.session["sso"] = pending.as_dict() | {"at": int(time.time()),
                                                  "next": safe_next(next)}  # fmt: skip
    return RedirectResponse(url, status_code=303)


@router.get("/login/sso/callback", name="sso_callback")
async def sso_callback(
    request: Request,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=512),
    error: str | None = Query(None, max_length=200),
    db: AsyncSession = DB_SESSION,
) -> Response:
    client = _client(request)
    saved: Any = request.session.pop("sso", None)  # used once, whatever happens next
    ip = client_ip(request)
    reason = None
    if not isinstance(saved, dict) or not state:
        reason = "state"
    elif not hmac.compare_digest(str(saved.get("state", "")).encode(), state.encode()):
        reason = "state"  # a callback this browser did not start (login CSRF)
    elif time.time() - saved.get("at", 0) > SSO_SECONDS:
        reason = "expired"
    elif error or not code:
        reason = "denied"  # the provider's own refusal (access_denied, …) or no code
    if reason is not None:
        await record(db, actor="sso", action="login.sso_refused", ip=ip,
                     details={"reason": reason, "error": (error or "")[:80]})  # fmt: skip
        await db.commit()
        return _refused(request, reason)
    pending = Pending(state=saved["state"], nonce=saved["nonce"], verifier=saved["verifier"])
    try:
        claims = await client.finish(code, _redirect_uri(request), pending)  # type: ignore[arg-type]
        agent = await sign_in(db, client.settings, claims, ip=ip)
    except SsoError as exc:
        if not exc.audited:  # the token's checks; sign_in audits its own refusals
            await record(db, actor="sso", action="login.sso_refused", ip=ip,
                         details={"reason": exc.reason, "detail": exc.detail})  # fmt: skip
        await db.commit()
        log.info("sso.refused", reason=exc.reason)
        return _refused(request, exc.reason)
    except IntegrityError:  # the same person's first sign-in twice at once: the other won
        await db.rollback()
        return _refused(request, "expired")
    target = saved.get("next") or "/"
    settings = request.app.state.settings
    enrolled = await db.get(StaffTotp, agent.id)
    due = agent.role in settings.totp_required_roles or (enrolled and enrolled.enabled_at)
    if due and not provider_mfa(claims):
        # The provider did not say it asked for a second factor: kefu's own, as after a
        # password (kefu.auth.views, /login/totp), before the session starts.
        await db.commit()
        request.session.clear()
        request.session["mfa"] = {"uid": agent.id, "at": int(time.time()), "next": target}
        return RedirectResponse("/login/totp", status_code=303)
    await signed_in(db, agent, ip=ip)
    return await start_session(request, db, agent.id, target)
