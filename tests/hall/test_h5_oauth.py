"""The simulator's OAuth2 web-page authorisation, as WeChat documents it: the authorize
redirect and its error pages, codes that work once and for five minutes, the code exchange's
JSON and error codes; and kefu's exchange against it."""

# ruff: noqa: F811 - fixtures imported from test_h5 are parameters here

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.simulator import oauth
from kefu.config import load_settings
from kefu.hall.h5.auth import OAuthFailed, exchange_code
from kefu.hall.h5.signing import BadSignature, sign, unsign
from tests.hall.test_h5 import APP_ID, APP_SECRET, WechatSim, wechat_sim  # noqa: F401

REDIRECT = "https://bank.example/h5/hall/oauth"


def authorize(sim: WechatSim, openid: str | None = "o-1", **override: str) -> httpx.Response:
    params = {"appid": APP_ID, "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "snsapi_base", "state": "n0nce"} | override  # fmt: skip
    cookies = {f"wxsim_{APP_ID}": openid} if openid else {}
    return httpx.get(f"{sim.url}/connect/oauth2/authorize", params=params, cookies=cookies,
                     follow_redirects=False)  # fmt: skip


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["n0nce"]
    return query["code"][0]


def exchange(sim: WechatSim, code: str, **override: str) -> dict:
    params = {"appid": APP_ID, "secret": APP_SECRET, "code": code,
              "grant_type": "authorization_code"} | override  # fmt: skip
    return httpx.get(f"{sim.url}/sns/oauth2/access_token", params=params).json()


def test_a_code_gives_the_openid_once(wechat_sim: WechatSim) -> None:
    response = authorize(wechat_sim)
    assert response.headers["location"].startswith(REDIRECT + "?")
    code = code_of(response)
    first = exchange(wechat_sim, code)
    assert first["openid"] == "o-1" and first["scope"] == "snsapi_base"
    assert first["expires_in"] == 7200 and first["access_token"] and first["refresh_token"]
    assert exchange(wechat_sim, code) == {"errcode": 40163, "errmsg": "code been used"}


def test_exchange_errors(wechat_sim: WechatSim) -> None:
    code = code_of(authorize(wechat_sim))
    assert exchange(wechat_sim, "forged")["errcode"] == 40029
    assert exchange(wechat_sim, code, secret="wrong")["errcode"] == 40125
    assert exchange(wechat_sim, code, appid="wxnobody")["errcode"] == 40013
    assert exchange(wechat_sim, code, grant_type="client_credential")["errcode"] == 40002
    assert exchange(wechat_sim, code)["openid"] == "o-1"  # none of those used it up


def test_codes_expire_after_five_minutes(wechat_sim: WechatSim) -> None:
    code = code_of(authorize(wechat_sim))
    clock = wechat_sim.state.clock
    wechat_sim.state.clock = lambda: clock() + oauth.CODE_TTL + 1
    try:
        assert exchange(wechat_sim, code)["errcode"] == 42003
    finally:
        wechat_sim.state.clock = clock


@pytest.mark.parametrize(
    ("override", "errcode"),
    [({"appid": ""}, 10012), ({"appid": "wxnobody"}, 40013), ({"redirect_uri": ""}, 10011),
     ({"redirect_uri": "javascript:alert(1)"}, 10011), ({"response_type": "token"}, 10007),
     ({"scope": ""}, 10010), ({"scope": "snsapi_login"}, 10005), ({"state": "x" * 129}, 10013)],
)  # fmt: skip
def test_bad_authorize_links_show_wechats_error_page(
    wechat_sim: WechatSim, override, errcode
) -> None:  # type: ignore[no-untyped-def]
    response = authorize(wechat_sim, **override)
    assert response.status_code == 200 and f"data-errcode='{errcode}'" in response.text


def test_a_browser_without_a_follower_picks_one(wechat_sim: WechatSim) -> None:
    page = authorize(wechat_sim, openid=None)
    assert page.status_code == 200 and "name=openid" in page.text
    form = {"appid": APP_ID, "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "snsapi_base", "state": "n0nce", "openid": "o-picked"}  # fmt: skip
    chosen = httpx.post(f"{wechat_sim.url}/connect/oauth2/authorize", data=form)
    assert chosen.cookies.get(f"wxsim_{APP_ID}") == "o-picked"
    assert exchange(wechat_sim, code_of(chosen))["openid"] == "o-picked"
    bad = httpx.post(f"{wechat_sim.url}/connect/oauth2/authorize", data=form | {"openid": "a b"})
    assert bad.status_code == 422


def test_webview_sets_the_follower_and_only_goes_to_web_urls(wechat_sim: WechatSim) -> None:
    url = f"{wechat_sim.url}/_simulator/webview"
    ok = httpx.get(url, params={"appid": APP_ID, "openid": "o-9", "next": REDIRECT})
    assert ok.status_code == 302 and ok.headers["location"] == REDIRECT
    assert httpx.get(url, params={"appid": APP_ID, "openid": "o-9",
                                  "next": "javascript:x"}).status_code == 422  # fmt: skip
    assert httpx.get(url, params={"appid": "wxnobody", "openid": "o-9",
                                  "next": REDIRECT}).status_code == 404  # fmt: skip


def test_kefu_exchanges_codes_and_reports_wechats_errors(wechat_sim: WechatSim) -> None:
    settings = load_settings(wechat_api_base_url=wechat_sim.url)
    account = WechatAccount(name="hall", app_id=APP_ID, app_secret=APP_SECRET, token="hall-token",
                            mode="plain")  # fmt: skip
    code = code_of(authorize(wechat_sim, openid="o-kefu"))
    assert asyncio.run(exchange_code(settings, account, code)) == "o-kefu"
    with pytest.raises(OAuthFailed) as replay:
        asyncio.run(exchange_code(settings, account, code))
    assert replay.value.errcode == 40163
    down = load_settings(wechat_api_base_url="http://127.0.0.1:9")
    with pytest.raises(OAuthFailed) as unreachable:
        asyncio.run(exchange_code(down, account, "c"))
    assert unreachable.value.errcode == -1


def test_signed_values_refuse_tampering_other_purposes_and_age() -> None:
    value = sign("k", "h5-session", ["hall", "o-1"], ttl=60, now=1000)
    assert unsign("k", "h5-session", value, now=1059) == ["hall", "o-1"]
    for bad in (
        lambda: unsign("k", "h5-session", value, now=1061),  # expired
        lambda: unsign("k", "h5-csrf", value, now=1000),  # signed for something else
        lambda: unsign("other", "h5-session", value, now=1000),  # another key
        lambda: unsign("k", "h5-session", "A" + value[1:], now=1000),  # tampered
        lambda: unsign("k", "h5-session", "no-dot", now=1000),
    ):
        with pytest.raises(BadSignature):
            bad()
    with pytest.raises(ValueError):
        sign("k", "p", ["a|b"], ttl=1)
