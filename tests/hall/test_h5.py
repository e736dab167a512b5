"""H5 micro pages: OAuth2 snsapi_base against the WeChat simulator on a real socket, the signed
session cookie, binding a card with an SMS code that travels through a carrier simulator,
bills, cards, branches, regions and articles."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from kefu.app import create_app
from kefu.audit.models import AuditEntry
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.sms.config import SmsLink
from kefu.channels.wechat.simulator import DEFAULT_ROUTERS, SimApp, SimulatorState, build_app, oauth
from kefu.config import load_settings
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.hall.h5.signing import sign
from kefu.identity.models import ChannelIdentity
from tests.channels.sms.test_demo import _free_ports
from tests.outbound.test_api import simulator as smsc  # noqa: F401 - a fixture

pytestmark = pytest.mark.db

APP_ID, APP_SECRET = "wxhall0000000001", "hall-secret"
SECRET = "test-secret"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PENDING = re.compile(r'name="pending" value="([^"]+)"')


@dataclass
class WechatSim:
    url: str
    state: SimulatorState


@pytest.fixture(scope="module")
def wechat_sim() -> Iterator[WechatSim]:
    """The WeChat simulator with the OAuth2 endpoints, served by uvicorn on a free port."""
    state = SimulatorState()
    state.add_app(SimApp(app_id=APP_ID, secret=APP_SECRET, token="hall-token"))
    (port,) = _free_ports(1)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(state, (*DEFAULT_ROUTERS, oauth.router)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )  # fmt: skip
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        assert time.time() < deadline, "the WeChat simulator did not start"
        time.sleep(0.05)
    yield WechatSim(f"http://127.0.0.1:{port}", state)
    server.should_exit = True
    thread.join(timeout=10)


def hall_settings(seeded_url: str, sim_url: str, smsc_port: int | None = None):  # type: ignore[no-untyped-def]
    account = {"name": "hall", "app_id": APP_ID, "app_secret": APP_SECRET,
               "token": "hall-token", "mode": "plain", "display_name": "kefu银行"}  # fmt: skip
    links = []
    if smsc_port is not None:
        links = [SmsLink(name="smsc", protocol="smpp", port=smsc_port, username="kefu",
                         password="secret").model_dump()]  # fmt: skip
    return load_settings(database_url=seeded_url, secret_key=SECRET, wechat_accounts=[account],
                         wechat_api_base_url=sim_url, wechat_oauth_base_url=sim_url,
                         sms_links=links)  # fmt: skip


@pytest.fixture
def hall(seeded_url: str, wechat_sim: WechatSim, smsc):  # type: ignore[no-untyped-def]  # noqa: F811
    smsc_port, smsc_control = smsc
    settings = hall_settings(seeded_url, wechat_sim.url, smsc_port)
    with TestClient(create_app(settings)) as client:
        yield client, smsc_control, seeded_url


def open_as(client: TestClient, sim_url: str, openid: str, path: str) -> httpx.Response:
    """What WeChat's webview does: kefu → authorize (silent) → kefu with a code → the page."""
    first = client.get(path, follow_redirects=False)
    assert first.status_code == 302, first.text
    authorize = first.headers["location"]
    assert authorize.startswith(sim_url + "/connect/oauth2/authorize?")
    back = httpx.get(authorize, cookies={f"wxsim_{APP_ID}": openid}, follow_redirects=False)
    assert back.status_code == 302, back.text
    landing = urlsplit(back.headers["location"])
    return client.get(f"{landing.path}?{landing.query}", follow_redirects=True)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _customer(url: str, n: int):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        bank = SyntheticBank(engine)
        profile = await bank.get_customer(f"C{n:010d}")
        cards = await bank.list_cards(profile.customer_no)
        return profile, cards
    finally:
        await engine.dispose()


async def _rows(url: str, statement):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            return list((await db.scalars(statement)).all())
    finally:
        await engine.dispose()


def _codes(control: str, mobile: str) -> list[str]:
    texts = [m["text"] for m in httpx.get(control + "/mt", params={"to": mobile}).json()]
    return [m.group(1) for t in texts if "微信" in t and (m := re.search(r"验证码(\d{6})", t))]


def _wait_code(control: str, mobile: str, seen: int) -> str:
    deadline = time.time() + 15
    while time.time() < deadline:
        codes = _codes(control, mobile)
        if len(codes) > seen:
            return codes[-1]
        time.sleep(0.1)
    raise AssertionError("no code reached the carrier simulator")


# --------------------------------------------------------------------------- who is reading


def test_unknown_account_is_404(hall) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    assert client.get("/h5/nosuch/bill", follow_redirects=False).status_code == 404


def test_a_page_without_a_session_goes_through_snsapi_base(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    first = client.get("/h5/hall/bill?month=2026-03", follow_redirects=False)
    assert first.status_code == 302
    query = parse_qs(urlsplit(first.headers["location"]).query)
    assert query["appid"] == [APP_ID] and query["scope"] == ["snsapi_base"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/h5/hall/oauth"]
    assert len(query["state"][0].encode()) <= 128  # WeChat's limit
    page = open_as(client, wechat_sim.url, "o-reader-1", "/h5/hall/bill?month=2026-03")
    # Back on the page first asked for, now as the follower (not bound yet).
    assert page.status_code == 403 and 'href="/h5/hall/bind"' in page.text
    assert str(page.url).endswith("/h5/hall/bill?month=2026-03")
    assert client.get("/h5/hall/", follow_redirects=False).status_code == 200


def test_a_replayed_oauth_code_is_refused(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    first = client.get("/h5/hall/cards", follow_redirects=False)
    back = httpx.get(first.headers["location"], cookies={f"wxsim_{APP_ID}": "o-replay"},
                     follow_redirects=False)  # fmt: skip
    landing = urlsplit(back.headers["location"])
    ok = client.get(f"{landing.path}?{landing.query}", follow_redirects=False)
    assert ok.status_code == 303
    client.cookies.delete("kefu_h5")
    # Same code again (a reload of the old URL, or an attacker's replay): WeChat says 40163.
    client.get("/h5/hall/cards", follow_redirects=False)  # a fresh state cookie
    again_state = parse_qs(urlsplit(client.get("/h5/hall/cards", follow_redirects=False)
                                    .headers["location"]).query)["state"][0]  # fmt: skip
    code = parse_qs(landing.query)["code"][0]
    replay = client.get(f"/h5/hall/oauth?code={code}&state={again_state}", follow_redirects=False)
    assert replay.status_code == 400 and "40163" in replay.text
    assert "kefu_h5" not in client.cookies


def test_a_foreign_state_is_refused(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    first = client.get("/h5/hall/cards", follow_redirects=False)
    back = httpx.get(first.headers["location"], cookies={f"wxsim_{APP_ID}": "o-x"},
                     follow_redirects=False)  # fmt: skip
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    # A login-CSRF attempt: the attacker's code with a state this browser was never given.
    refused = client.get(f"/h5/hall/oauth?code={code}&state=not-mine", follow_redirects=False)
    assert refused.status_code == 400
    assert "kefu_h5" not in client.cookies


@pytest.mark.parametrize("forge", ["tampered", "other_account", "expired", "garbage"])
def test_a_forged_session_cookie_is_not_a_session(hall, forge: str) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    good = sign(SECRET, "h5-session", ["hall", "o-victim"], ttl=600)
    value = {
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "other_account": sign(SECRET, "h5-session", ["other", "o-victim"], ttl=600),
        "expired": sign(SECRET, "h5-session", ["hall", "o-victim"], ttl=-1),
        "garbage": "not-a-cookie",
    }[forge]
    client.cookies.set("kefu_h5", value, path="/h5/hall")
    response = client.get("/h5/hall/cards", follow_redirects=False)
    assert response.status_code == 302  # back to WeChat to find out who this is
    assert "/connect/oauth2/authorize" in response.headers["location"]
    # A cookie signed with another key (another deployment, or a guess) neither.
    client.cookies.set("kefu_h5", sign("other-key", "h5-session", ["hall", "o-victim"], ttl=600),
                       path="/h5/hall")  # fmt: skip
    assert client.get("/h5/hall/cards", follow_redirects=False).status_code == 302


# --------------------------------------------------------------------------- binding


def _bind_form(client: TestClient, page: httpx.Response, card_no: str, mobile: str):  # type: ignore[no-untyped-def]
    token = CSRF.search(page.text).group(1)
    return client.post("/h5/hall/bind", data={"card_no": card_no, "mobile": mobile, "csrf": token})


def test_bind_with_an_sms_code_then_bills_cards_and_unbind(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, control, url = hall
    profile, cards = run(_customer(url, 3))
    card = cards[0]
    page = open_as(client, wechat_sim.url, "o-binder", "/h5/hall/bind")
    assert page.status_code == 200
    seen = len(_codes(control, profile.mobile))

    wrong_card = _bind_form(client, page, "6222000000000000000", profile.mobile)
    assert wrong_card.status_code == 422 and 'data-reason="unknown_card"' in wrong_card.text
    other_mobile = "13900000000" if profile.mobile != "13900000000" else "13900000001"
    mismatch = _bind_form(client, page, card.card_no, other_mobile)
    assert mismatch.status_code == 422 and 'data-reason="mobile_mismatch"' in mismatch.text
    bad_format = _bind_form(client, page, "12ab", profile.mobile)
    assert bad_format.status_code == 422 and 'data-reason="format"' in bad_format.text
    no_csrf = client.post("/h5/hall/bind", data={"card_no": card.card_no, "mobile": profile.mobile})
    assert no_csrf.status_code == 400

    sent = _bind_form(client, page, card.card_no, profile.mobile)
    assert sent.status_code == 200, sent.text
    assert profile.mobile[-4:] in sent.text and profile.mobile not in sent.text  # masked
    code = _wait_code(control, profile.mobile, seen)
    pending = PENDING.search(sent.text).group(1)
    token = CSRF.search(sent.text).group(1)
    wrong = client.post("/h5/hall/bind/confirm",
                        data={"code": f"{(int(code) + 1) % 1_000_000:06d}", "pending": pending,
                              "csrf": token})  # fmt: skip
    assert wrong.status_code == 422 and 'data-reason="wrong_code"' in wrong.text
    done = client.post("/h5/hall/bind/confirm",
                       data={"code": code, "pending": pending, "csrf": token})  # fmt: skip
    assert done.status_code == 200 and 'action="/h5/hall/unbind"' in done.text
    assert card.card_no not in done.text and card.card_no[-4:] in done.text  # masked

    identities = run(_rows(url, select(ChannelIdentity).where(ChannelIdentity.value == "o-binder")))
    assert len(identities) == 1 and identities[0].kind == "wechat_openid"
    actions = [a.action for a in run(_rows(url, select(AuditEntry).where(
        AuditEntry.actor == "wechat:hall:o-binder")))]  # fmt: skip
    assert "identity.bind" in actions and "wechat.bind" in actions

    # The region follows the card's branch (the customer's home branch city).
    region = client.get("/h5/hall/region")
    assert f'data-region="{profile.city}"' in region.text

    credit = [c for c in cards if c.kind == "credit"]
    bill = client.get("/h5/hall/bill")
    assert bill.status_code == 200
    if credit:
        months = re.findall(r'data-month="([0-9-]+)"', bill.text)
        assert months, bill.text
        older = re.search(r'href="\?month=([0-9-]+)&amp;card=\d{4}" rel="prev"', bill.text)
        if older:
            previous = client.get(f"/h5/hall/bill?month={older.group(1)}")
            assert f'data-month="{older.group(1)}"' in previous.text
    assert client.get("/h5/hall/bill?month=2026-13").status_code == 422
    assert client.get("/h5/hall/bill?card=12x4").status_code == 422
    mine = client.get("/h5/hall/cards")
    assert mine.status_code == 200 and card.card_no[-4:] in mine.text
    assert card.card_no not in mine.text

    token = CSRF.search(client.get("/h5/hall/bind").text).group(1)
    gone = client.post("/h5/hall/unbind", data={"csrf": token})
    assert gone.status_code == 200 and 'action="/h5/hall/bind"' in gone.text
    assert run(_rows(url, select(ChannelIdentity).where(ChannelIdentity.value == "o-binder"))) == []
    actions = [a.action for a in run(_rows(url, select(AuditEntry).where(
        AuditEntry.actor == "wechat:hall:o-binder")))]  # fmt: skip
    assert "wechat.unbind" in actions
    assert client.get("/h5/hall/cards").status_code == 403


def test_five_wrong_codes_lock_the_challenge(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, control, url = hall
    profile, cards = run(_customer(url, 5))
    page = open_as(client, wechat_sim.url, "o-guesser", "/h5/hall/bind")
    seen = len(_codes(control, profile.mobile))
    sent = _bind_form(client, page, cards[0].card_no, profile.mobile)
    code = _wait_code(control, profile.mobile, seen)
    pending, token = PENDING.search(sent.text).group(1), CSRF.search(sent.text).group(1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        answer = client.post("/h5/hall/bind/confirm",
                             data={"code": wrong, "pending": pending, "csrf": token})  # fmt: skip
        assert answer.status_code == 422 and 'data-reason="wrong_code"' in answer.text
    fifth = client.post("/h5/hall/bind/confirm",
                        data={"code": wrong, "pending": pending, "csrf": token})  # fmt: skip
    assert fifth.status_code == 422 and 'data-reason="locked"' in fifth.text
    # Locked: even the right code no longer binds.
    late = client.post("/h5/hall/bind/confirm", data={"code": code, "pending": pending,
                                                      "csrf": token})  # fmt: skip
    assert late.status_code == 422 and 'data-reason="no_code"' in late.text
    assert (
        run(_rows(url, select(ChannelIdentity).where(ChannelIdentity.value == "o-guesser"))) == []
    )


def test_a_pending_binding_of_another_follower_is_refused(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    page = open_as(client, wechat_sim.url, "o-thief", "/h5/hall/bind")
    token = CSRF.search(page.text).group(1)
    stolen = sign(SECRET, "h5-bind", ["hall", "o-victim", "13800000001", "1234"], ttl=600)
    answer = client.post("/h5/hall/bind/confirm",
                         data={"code": "123456", "pending": stolen, "csrf": token})  # fmt: skip
    assert answer.status_code == 422 and 'data-reason="pending_invalid"' in answer.text


# --------------------------------------------------------------------------- region, branches


def test_region_correction_and_branches(hall, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    page = open_as(client, wechat_sim.url, "o-traveller", "/h5/hall/region")
    token = CSRF.search(page.text).group(1)
    bad = client.post("/h5/hall/region", data={"region": "火星", "csrf": token})
    assert bad.status_code == 422 and "region" in bad.text
    forged = client.post("/h5/hall/region", data={"region": "成都", "csrf": "x"})
    assert forged.status_code == 400
    chosen = client.post("/h5/hall/region", data={"region": "成都", "csrf": token})
    assert chosen.status_code == 200 and 'data-region="成都"' in chosen.text
    branches = client.get("/h5/hall/branches")
    assert "成都分行营业部" in branches.text and "北京分行营业部" not in branches.text
    assert branches.text.count("<circle") == 34  # one dot per branch city on the map
    assert "北京分行营业部" in client.get("/h5/hall/branches?city=北京").text
    assert client.get("/h5/hall/branches?city=火星").status_code == 422


def test_article_is_public_and_unknown_ones_are_404(hall) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = hall
    assert client.get("/h5/hall/article/999999").status_code == 404
    assert client.get("/h5/hall/article/abc").status_code == 422
