"""What every way of signing in shares: the login page (the password form, the single sign-on
button, or both, as the settings say) and the start of a session."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth import sessions
from kefu.web.deps import client_ip, csrf_token
from kefu.web.templating import templates


def safe_next(target: str | None) -> str:
    # Only local paths: an attacker-supplied absolute URL must not turn login into a redirector.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def login_response(
    request: Request, next: str | None = "/", error: str | None = None, status: int = 200
) -> Response:
    oidc = request.app.state.settings.oidc
    context = {"csrf": csrf_token(request), "next": safe_next(next), "error": error,
               "sso": oidc is not None, "password_login": oidc is None or oidc.password_login}  # fmt: skip
    return templates.TemplateResponse(request, "auth/login.html", context, status_code=status)


async def start_session(request: Request, db: AsyncSession, agent_id: int, target: str) -> Response:
    """A signed-in user's server-side session (``kefu.auth.sessions``), then ``target``."""
    settings = request.app.state.settings
    token = await sessions.start(
        db, agent_id=agent_id, max_age=settings.session_max_age, ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )  # fmt: skip
    await db.commit()
    request.session.clear()  # a new session id on login prevents session fixation
    request.session["uid"] = agent_id
    request.session["sid"] = token
    return RedirectResponse(target, status_code=303)
