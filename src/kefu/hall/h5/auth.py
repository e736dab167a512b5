"""Who is looking at an H5 page: WeChat's OAuth2 ``snsapi_base`` flow and a short-lived signed
session cookie.

A page without a valid cookie redirects to WeChat's authorize URL (silent for snsapi_base: the
follower sees no prompt); WeChat redirects back to ``/h5/{account}/oauth`` with a single-use
code; kefu exchanges it at ``/sns/oauth2/access_token`` for the openid and sets the cookie.

Links in news cards carry no token: followers forward cards, and a bearer token in a
forwarded URL would show one customer's bill to whoever opens it. The silent redirect costs
one round trip and proves the reader is the follower.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import httpx
from fastapi import Request
from fastapi.responses import RedirectResponse

from kefu.config import Settings
from kefu.hall.h5.signing import BadSignature, sign, unsign
from kefu.hall.wechat import OfficialAccount

SESSION_COOKIE = "kefu_h5"
OAUTH_COOKIE = "kefu_h5_oauth"
SESSION_TTL = 30 * 60  # a bill looked up from the menu, not a standing login
OAUTH_TTL = 10 * 60
EXCHANGE_TIMEOUT = 5.0


class OAuthFailed(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def cookie_path(account: str) -> str:
    return f"/h5/{account}"


def session_openid(request: Request, account: str) -> str | None:
    """The openid of a valid session cookie for ``account``; None for none, forged or old."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    try:
        signed_account, openid = unsign(_settings(request).session_secret, "h5-session", value)
    except (BadSignature, ValueError):
        return None
    return openid if signed_account == account else None


def set_session(response: RedirectResponse, request: Request, account: str, openid: str) -> None:
    value = sign(_settings(request).session_secret, "h5-session", [account, openid],
                 ttl=SESSION_TTL)  # fmt: skip
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_TTL, path=cookie_path(account),
                        httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")  # fmt: skip


def form_token(request: Request, account: str) -> str:
    """A CSRF token for the H5 forms, tied to the session cookie (stateless double submit)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return sign(_settings(request).session_secret, "h5-csrf", [account, cookie[-32:]],
                ttl=SESSION_TTL)  # fmt: skip


def check_form_token(request: Request, account: str, token: str) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    try:
        fields = unsign(_settings(request).session_secret, "h5-csrf", token or "")
    except (BadSignature, ValueError):
        return False
    return fields == [account, cookie[-32:]]


def login_redirect(request: Request, account: OfficialAccount) -> RedirectResponse:
    """Off to WeChat's authorize page, remembering where to come back (in a signed cookie: the
    ``state`` WeChat carries is limited to 128 bytes, so it holds only a nonce)."""
    settings = _settings(request)
    nonce = secrets.token_urlsafe(12)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    redirect_uri = str(request.url_for("h5_oauth", account=account.name))
    query = urlencode({"appid": account.app_id, "redirect_uri": redirect_uri,
                       "response_type": "code", "scope": "snsapi_base", "state": nonce})  # fmt: skip
    url = f"{settings.wechat_oauth_base_url}/connect/oauth2/authorize?{query}#wechat_redirect"
    response = RedirectResponse(url, status_code=302)
    remembered = sign(settings.session_secret, "h5-oauth", [account.name, target, nonce],
                      ttl=OAUTH_TTL)  # fmt: skip
    response.set_cookie(OAUTH_COOKIE, remembered, max_age=OAUTH_TTL,
                        path=cookie_path(account.name), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


def returning_to(request: Request, account: str, state: str) -> str | None:
    """Where the OAuth round trip started, if ``state`` is the nonce this browser was given."""
    try:
        signed_account, target, nonce = unsign(
            _settings(request).session_secret, "h5-oauth", request.cookies.get(OAUTH_COOKIE, "")
        )
    except (BadSignature, ValueError):
        return None
    if signed_account != account or not secrets.compare_digest(nonce.encode(), state.encode()):
        return None
    # Signed by us, but keep the redirect inside this account's pages all the same.
    return target if target.startswith(cookie_path(account) + "/") else cookie_path(account) + "/"


async def exchange_code(settings: Settings, account: OfficialAccount, code: str) -> str:
    """The openid behind an OAuth code (WeChat: five minutes, single use)."""
    params = {"appid": account.app_id, "secret": account.app_secret, "code": code,
              "grant_type": "authorization_code"}  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=EXCHANGE_TIMEOUT) as client:
            answer = await client.get(
                f"{settings.wechat_api_base_url}/sns/oauth2/access_token", params=params
            )
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OAuthFailed(-1, f"WeChat did not answer: {exc}") from None
    if not isinstance(body, dict):
        raise OAuthFailed(-1, "WeChat's answer is not a JSON object")
    if body.get("errcode"):
        raise OAuthFailed(int(body["errcode"]), str(body.get("errmsg", "")))
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid or "|" in openid or len(openid) > 128:
        raise OAuthFailed(-1, "WeChat's answer has no usable openid")
    return openid
