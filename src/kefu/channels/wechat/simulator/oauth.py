"""WeChat's web-page authorisation (网页授权, OAuth2) in the simulator: the authorize redirect
(``open.weixin.qq.com/connect/oauth2/authorize``) and the code exchange
(``api.weixin.qq.com/sns/oauth2/access_token``), with WeChat's JSON and error codes.

Inside WeChat the webview knows which user is reading; a browser does not, so the simulator
keeps that user in a cookie per AppID (``wxsim_<appid>``), set by ``/_simulator/webview``
("open this link as follower X", what the demo phone does) or by a small form the authorize
page shows when the cookie is missing. Codes are valid five minutes and work once, as WeChat's.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kefu.channels.wechat.simulator.server import SimError, sim

CODE_TTL = 300
STATE_MAX_BYTES = 128
SCOPES = ("snsapi_base", "snsapi_userinfo")

router = APIRouter()


@dataclass
class IssuedCode:
    app_id: str
    openid: str
    scope: str
    expires_at: float
    used: bool = False


def _codes(request: Request) -> dict[str, IssuedCode]:
    codes = getattr(request.app.state, "oauth_codes", None)
    if codes is None:
        codes = request.app.state.oauth_codes = {}
    return codes


def _cookie(app_id: str) -> str:
    return f"wxsim_{app_id}"


def _error_page(errcode: int, errmsg: str) -> HTMLResponse:
    # What WeChat's webview shows for a bad authorize link (an error page, not a redirect).
    return HTMLResponse(
        f"<!doctype html><meta charset='utf-8'><title>微信</title>"
        f"<p>Oops! Something went wrong:(</p><p data-errcode='{errcode}'>{errcode} "
        f"{html.escape(errmsg)}</p>"
    )


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check(request: Request, appid: str, redirect_uri: str, response_type: str, scope: str,
           state: str) -> HTMLResponse | None:  # fmt: skip
    if not appid:
        return _error_page(10012, "appid 参数错误")
    if appid not in sim(request).apps:
        return _error_page(40013, "invalid appid")
    if not redirect_uri or not _http_url(redirect_uri):
        return _error_page(10011, "redirect_uri 参数错误")
    if response_type != "code":
        return _error_page(10007, "response_type 参数错误")
    if not scope:
        return _error_page(10010, "scope 参数错误")
    if scope not in SCOPES:
        return _error_page(10005, "此公众号并没有这些 scope 的权限")
    if len(state.encode()) > STATE_MAX_BYTES:
        return _error_page(10013, "state 参数过长")
    return None


def _redirect_with_code(request: Request, appid: str, openid: str, redirect_uri: str,
                        scope: str, state: str) -> RedirectResponse:  # fmt: skip
    code = secrets.token_urlsafe(24)
    _codes(request)[code] = IssuedCode(appid, openid, scope, sim(request).clock() + CODE_TTL)
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(
        redirect_uri + joiner + urlencode({"code": code, "state": state}), status_code=302
    )


@router.get("/connect/oauth2/authorize")
async def authorize(
    request: Request,
    appid: str = "",
    redirect_uri: str = "",
    response_type: str = "",
    scope: str = "",
    state: str = "",
) -> Response:
    """snsapi_base is silent: with the follower known, straight back with a code."""
    problem = _check(request, appid, redirect_uri, response_type, scope, state)
    if problem is not None:
        return problem
    openid = request.cookies.get(_cookie(appid))
    if openid:
        return _redirect_with_code(request, appid, openid, redirect_uri, scope, state)
    hidden = "".join(
        f"<input type=hidden name={k} value='{html.escape(v, quote=True)}'>"
        for k, v in {"appid": appid, "redirect_uri": redirect_uri,
                     "response_type": response_type, "scope": scope, "state": state}.items()
    )  # fmt: skip
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><meta name=viewport content='width=device-width'>"
        "<title>微信（模拟）</title><h3>模拟微信：以哪位关注者的身份打开？</h3>"
        f"<form method=post action='/connect/oauth2/authorize'>{hidden}"
        "<input name=openid placeholder=openid required maxlength=64>"
        "<button type=submit>打开</button></form>"
    )


@router.post("/connect/oauth2/authorize")
async def authorize_as(
    request: Request,
    openid: str = Form(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
    appid: str = Form(""),
    redirect_uri: str = Form(""),
    response_type: str = Form(""),
    scope: str = Form(""),
    state: str = Form(""),
) -> Response:
    """The simulator's stand-in for "the user reading in WeChat is ``openid``"."""
    problem = _check(request, appid, redirect_uri, response_type, scope, state)
    if problem is not None:
        return problem
    response = _redirect_with_code(request, appid, openid, redirect_uri, scope, state)
    response.set_cookie(_cookie(appid), openid, httponly=True, samesite="lax")
    return response


@router.get("/_simulator/webview")
async def webview(
    request: Request,
    appid: str = Query(..., max_length=32),
    openid: str = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
    next: str = Query(..., max_length=2048),  # noqa: A002 - the usual name for it
) -> Response:
    """Open ``next`` in follower ``openid``'s WeChat browser (sets who the webview is)."""
    if appid not in sim(request).apps:
        return JSONResponse({"detail": "unknown appid"}, status_code=404)
    if not _http_url(next):
        return JSONResponse({"detail": "next: an http(s) URL"}, status_code=422)
    response = RedirectResponse(next, status_code=302)
    response.set_cookie(_cookie(appid), openid, httponly=True, samesite="lax")
    return response


@router.get("/sns/oauth2/access_token")
async def access_token(
    request: Request, appid: str = "", secret: str = "", code: str = "", grant_type: str = ""
) -> dict[str, Any]:
    state = sim(request)
    if grant_type != "authorization_code":
        raise SimError(40002, "invalid grant_type")
    app = state.apps.get(appid)
    if app is None:
        raise SimError(40013, "invalid appid")
    if secret != app.secret:
        raise SimError(40125, "invalid appsecret")
    issued = _codes(request).get(code)
    if issued is None or issued.app_id != appid:
        raise SimError(40029, "invalid code")
    if issued.used:
        raise SimError(40163, "code been used")
    if issued.expires_at <= state.clock():
        raise SimError(42003, "code expired")
    issued.used = True
    return {
        "access_token": secrets.token_urlsafe(32),
        "expires_in": 7200,
        "refresh_token": secrets.token_urlsafe(32),
        "openid": issued.openid,
        "scope": issued.scope,
    }
