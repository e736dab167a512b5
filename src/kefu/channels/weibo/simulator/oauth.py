"""Weibo's OAuth2 (authorization-code grant, no refresh token for web apps): the consent page
``/oauth2/authorize`` (``auto=1`` skips the button for tests and the demo), the code exchange
``/oauth2/access_token`` and ``/oauth2/get_token_info``. The one user who can consent is the
bank's official account: the simulator stands in for its admin signing in.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from kefu.channels.weibo.simulator.api import params, sim
from kefu.channels.weibo.simulator.state import SimError, WeiboState

router = APIRouter()


def _checked(state: WeiboState, values: dict[str, str]) -> str:
    """The redirect_uri of a valid authorize request (else a SimError for the error page)."""
    if values.get("client_id") != state.app_key:
        raise SimError(21323, "invalid_client")
    if values.get("response_type", "code") != "code":
        raise SimError(21329, "unsupported_response_type")
    redirect_uri = values.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        raise SimError(21322, "redirect_uri_mismatch")
    return redirect_uri


def _redirect(redirect_uri: str, **query: str) -> RedirectResponse:
    joiner = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + joiner + urlencode(query), status_code=302)


def _error_page(exc: SimError) -> HTMLResponse:
    # Weibo shows an error page (it cannot trust the redirect_uri of a bad request).
    return HTMLResponse(
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>微博-出错了</title>"
        f"<p>授权请求有误</p><p data-error-code='{exc.code}'>错误码：{exc.code} "
        f"{html.escape(exc.message)}</p></html>",
        status_code=400,
    )


@router.get("/oauth2/authorize")
async def authorize_page(request: Request):  # type: ignore[no-untyped-def]
    state = sim(request)
    values = dict(request.query_params)
    try:
        redirect_uri = _checked(state, values)
    except SimError as exc:
        return _error_page(exc)
    if values.get("auto") == "1":
        return _redirect(
            redirect_uri, code=state.issue_code(redirect_uri), state=values.get("state", "")
        )
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{html.escape(values.get(name, ''))}'>"
        for name in ("client_id", "redirect_uri", "state")
    )
    return HTMLResponse(
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>微博-应用授权</title>"
        "<h1>应用授权</h1>"
        f"<p>应用 {html.escape(state.app_key)} 请求使用你的微博帐号 "
        f"<strong>@{html.escape(state.official.screen_name)}</strong>：读取 @我 的微博和评论、"
        "发表评论、回复私信。</p>"
        f"<form method='post' action='/oauth2/authorize'>{hidden}"
        "<button name='decision' value='allow'>授权</button> "
        "<button name='decision' value='deny'>取消</button></form></html>"
    )


@router.post("/oauth2/authorize")
async def authorize_submit(request: Request):  # type: ignore[no-untyped-def]
    state = sim(request)
    values = await params(request)
    try:
        redirect_uri = _checked(state, values)
    except SimError as exc:
        return _error_page(exc)
    if values.get("decision") == "deny":
        return _redirect(
            redirect_uri, error="access_denied", error_code="21330", state=values.get("state", "")
        )
    return _redirect(
        redirect_uri, code=state.issue_code(redirect_uri), state=values.get("state", "")
    )


@router.post("/oauth2/access_token")
async def access_token(request: Request) -> dict:
    state = sim(request)
    values = await params(request)
    if values.get("client_id") != state.app_key or values.get("client_secret") != state.app_secret:
        raise SimError(21324, "invalid_client")
    if values.get("grant_type") != "authorization_code":
        raise SimError(21328, "unsupported_grant_type")
    # Single use: a code is gone once tried, whether the rest was right or not.
    issued = state.codes.pop(values.get("code", ""), None)
    if issued is None or issued[1] <= state.now():
        raise SimError(21325, "invalid_grant")
    if values.get("redirect_uri") != issued[0]:
        raise SimError(21322, "redirect_uri_mismatch")
    token = state.issue_token()
    return {
        "access_token": token.token,
        "remind_in": str(state.token_ttl),
        "expires_in": state.token_ttl,
        "uid": str(token.uid),
        "isRealName": "true",
    }


@router.post("/oauth2/get_token_info")
async def token_info(request: Request) -> dict:
    state = sim(request)
    token = state.check_token((await params(request)).get("access_token"))
    return {
        "uid": token.uid,
        "appkey": state.app_key,
        "scope": "",
        "create_at": int(token.created_at),
        "expire_in": int(token.expires_at - state.now()),
    }
