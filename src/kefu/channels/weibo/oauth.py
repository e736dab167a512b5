"""Authorising the bank's Weibo application for an official account (OAuth2 authorization
code; Weibo gives web applications no refresh token, so an expired token means authorising
again). The admin page (``views.py``) sends the admin's browser to Weibo and takes the code
back; ``kefu weibo authorize NAME`` does the same from a terminal (it prints the URL and reads
the code the redirect carries); the demo and the tests use the simulator's ``auto=1``."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from kefu.channels.weibo.api import MALFORMED, Token, WeiboApi, WeiboApiError

# Where the code comes back when no kefu page is there to take it (the command line): Weibo's
# own "out of band" page, which shows the code in the address bar for the admin to copy.
OOB_REDIRECT = "https://api.weibo.com/oauth2/default.html"


def new_state() -> str:
    return secrets.token_urlsafe(24)


def code_from(answer: str) -> str:
    """The code from what the admin pasted: the code itself, or the whole redirect URL."""
    answer = answer.strip()
    if "code=" in answer:
        found = parse_qs(urlsplit(answer).query).get("code") or parse_qs(answer).get("code")
        if found:
            return found[0]
    return answer


async def authorise(api: WeiboApi, code: str, redirect_uri: str, *, actor: str) -> Token:
    """Trades the code for a token and stores it in the account's row."""
    token = await api.exchange_code(code, redirect_uri)
    await api.tokens.store(token, actor=actor)
    return token


async def authorise_automatically(api: WeiboApi, redirect_uri: str, *, actor: str) -> Token:
    """The simulator's one-step consent (``auto=1``): the authorize URL redirects at once to
    ``redirect_uri?code=…``; the code is read from the redirect and traded. Never for the real
    Weibo (it shows a consent page to a signed-in user)."""
    state = new_state()
    response = await api.http.get(api.authorize_url(redirect_uri, state, auto=True),
                                  follow_redirects=False, timeout=api.timeout)  # fmt: skip
    location = response.headers.get("location", "")
    query = parse_qs(urlsplit(location).query)
    if response.status_code not in (302, 303, 307) or query.get("state") != [state]:
        raise WeiboApiError(MALFORMED, f"the authorize step answered {response.status_code} "
                            "without a redirect carrying our state", path="/oauth2/authorize")  # fmt: skip
    code = (query.get("code") or [""])[0]
    return await authorise(api, code, redirect_uri, actor=actor)


async def authorise_interactively(
    api: WeiboApi, *, read: Callable[[str], str], say: Callable[[str], None],
    redirect_uri: str = OOB_REDIRECT, actor: str = "cli",
) -> Token:  # fmt: skip
    """The command line's way: shows the URL to open as the official account, reads the code
    (or the address the browser landed on) and stores the token."""
    url = api.authorize_url(redirect_uri, new_state())
    say(f"Open this address signed in as {api.account.screen_name} and allow access:\n{url}")
    code = code_from(read("Code (or the address you were sent to): "))
    if not code:
        raise WeiboApiError(MALFORMED, "no code given", path="/oauth2/access_token")
    return await authorise(api, code, redirect_uri, actor=actor)
