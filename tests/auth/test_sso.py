"""Staff single sign-on through OpenID Connect (issue 21, "staff sign-in that banks expect"),
end to end over real HTTP: kefu on a loopback port (``LiveServer``), the test provider on
another (``tests/auth/oidc_provider.py``), and an httpx client as the browser between them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from kefu.agents.models import Agent
from kefu.audit.models import AuditEntry
from kefu.auth import totp
from kefu.config import load_settings
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.net import guard
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, TestProvider, new_key
from tests.conftest import CSRF
from tests.security.live import LiveServer

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def provider() -> Iterator[TestProvider]:
    with TestProvider() as running:
        yield running


@pytest.fixture(autouse=True)
def _restore_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    # kefu's app sets the process-wide allow-list at start; other tests get theirs back.
    monkeypatch.setattr(guard, "_policy", guard.policy())


def _settings(url: str, provider: TestProvider, allow: bool = True, **oidc: Any):  # type: ignore[no-untyped-def]
    config = {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "role_map": {"kefu-admins": "admin", "kefu-supervisors": "supervisor",
                           "kefu-agents": "agent"}} | oidc  # fmt: skip
    return load_settings(database_url=url, secret_key="t", oidc=config,
                         outbound_allow_hosts=["127.0.0.1"] if allow else [])  # fmt: skip


async def _query(url: str, statement):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            return list((await db.scalars(statement)).all())
    finally:
        await engine.dispose()


def _agent(url: str, username: str) -> Agent | None:
    found = asyncio.run(_query(url, select(Agent).where(Agent.username == username)))
    return found[0] if found else None


def _audit(url: str, action: str) -> list[AuditEntry]:
    statement = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return asyncio.run(_query(url, statement))


def _callback_url(http: httpx.Client) -> str:
    """Goes to the provider and back as far as the callback URL (not yet followed)."""
    start = http.get("/login/sso", params={"next": "/"}, follow_redirects=False)
    assert start.status_code == 303, start.text
    back = http.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    return back.headers["location"]


def test_sign_in_maps_the_role_from_the_claim_and_creates_the_user(
    seeded_url: str, provider: TestProvider
) -> None:
    provider.reset(groups=["staff", "kefu-supervisors"], preferred_username="li.na",
                   sub="u-2002", name="李娜")  # fmt: skip
    with LiveServer(_settings(seeded_url, provider)) as base, httpx.Client(base_url=base) as http:
        page = http.get("/login")
        assert "使用单点登录" in page.text and 'href="/login/sso?next=' in page.text
        home = http.get("/login/sso", follow_redirects=True)
        assert home.status_code == 200 and home.url.path == "/", home.text
        # Signed in: a page that needs a session answers, the supervisor's and not more.
        assert http.get("/api/v1/agents", follow_redirects=False).status_code == 200
        assert http.get("/api/v1/users", follow_redirects=False).status_code == 403
    sent = provider.authorize_params[-1]
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["state"] and sent["nonce"] and sent["state"] != sent["nonce"]
    assert provider.requests == ["GET discovery", "POST token", "GET jwks"]
    agent = _agent(seeded_url, "li.na")
    assert agent is not None and agent.role == "supervisor" and agent.display_name == "李娜"
    assert agent.last_login_at is not None
    (entry,) = _audit(seeded_url, "login.sso")
    assert entry.actor == "li.na" and entry.details["role"] == "supervisor"
    assert entry.details["issuer"] == provider.issuer
    assert [e.actor for e in _audit(seeded_url, "login.success")][-1] == "li.na"
    # The secret appears in no audit record.
    everything = asyncio.run(_query(seeded_url, select(AuditEntry)))
    assert not any(CLIENT_SECRET in str(e.details) for e in everything)


def test_the_next_sign_in_follows_the_directory(seeded_url: str, provider: TestProvider) -> None:
    """The same (iss, sub) is the same user; a group change changes the role."""
    provider.reset(groups=["kefu-admins"])
    with LiveServer(_settings(seeded_url, provider)) as base:
        with httpx.Client(base_url=base) as http:
            assert http.get("/login/sso", follow_redirects=True).url.path == "/"
            assert http.get("/api/v1/users", follow_redirects=False).status_code == 200
        provider.reset(groups=["kefu-agents"], preferred_username="renamed")
        with httpx.Client(base_url=base) as http:
            assert http.get("/login/sso", follow_redirects=True).url.path == "/"
            assert http.get("/api/v1/users", follow_redirects=False).status_code == 403
    agent = _agent(seeded_url, "zhang.wei")
    assert agent is not None and agent.role == "agent" and _agent(seeded_url, "renamed") is None
    (change,) = _audit(seeded_url, "user.role_changed")
    assert change.details == {"from": "admin", "to": "agent", "by": "claims"}


@pytest.mark.parametrize(
    ("case", "reason"),
    [("nonce", "bad_claim_nonce"), ("other_key", "bad_signature"),
     ("audience", "bad_claim_aud"), ("expired", "bad_claim_exp"),
     ("issuer", "bad_claim_iss")],
)  # fmt: skip
def test_forged_or_stale_id_tokens_are_refused(
    seeded_url: str, provider: TestProvider, case: str, reason: str
) -> None:
    provider.reset()
    now = int(time.time())
    if case == "other_key":  # same key id, another private key: only the signature differs
        provider.sign_with = new_key(provider.key.kid)
    else:
        provider.tamper = {"nonce": {"nonce": "not-the-one-kefu-sent"},
                           "audience": {"aud": "another-client"},
                           "expired": {"exp": now - 3600, "iat": now - 7200},
                           "issuer": {"iss": "http://127.0.0.1:1"}}[case]  # fmt: skip
    with LiveServer(_settings(seeded_url, provider)) as base, httpx.Client(base_url=base) as http:
        answer = http.get("/login/sso", follow_redirects=True)
        assert answer.status_code == 401, answer.text
        assert "单点登录" in answer.text and "无法验证" in answer.text
        assert http.get("/api/v1/agents", follow_redirects=False).status_code == 401
    assert _agent(seeded_url, "zhang.wei") is None
    (refusal,) = _audit(seeded_url, "login.sso_refused")
    assert refusal.details["reason"] == reason
    assert _audit(seeded_url, "login.sso") == []


def test_a_callback_with_another_state_is_refused(seeded_url: str, provider: TestProvider) -> None:
    provider.reset()
    with LiveServer(_settings(seeded_url, provider)) as base, httpx.Client(base_url=base) as http:
        callback = urlsplit(_callback_url(http))
        query = parse_qs(callback.query)
        forged = urlencode(
            {"code": query["code"][0], "state": "an-attackers-state-状态"}
        )  # non-ASCII too
        answer = http.get(f"{callback.path}?{forged}", follow_redirects=False)
        assert answer.status_code == 400 and "请重新开始" in answer.text
        # The real state no longer works either: the pending sign-in was used up.
        again = http.get(f"{callback.path}?{callback.query}", follow_redirects=False)
        assert again.status_code == 400
        # A callback without any sign-in started in this browser (login CSRF).
        with httpx.Client(base_url=base) as stranger:
            assert stranger.get(f"{callback.path}?{callback.query}").status_code == 400
    assert "POST token" not in provider.requests  # the code was never even exchanged
    assert [e.details["reason"] for e in _audit(seeded_url, "login.sso_refused")] == ["state"] * 3
    assert _agent(seeded_url, "zhang.wei") is None


def test_someone_without_a_mapped_role_is_refused_in_chinese(
    seeded_url: str, provider: TestProvider
) -> None:
    provider.reset(groups=["finance", "everyone"])
    with LiveServer(_settings(seeded_url, provider)) as base, httpx.Client(base_url=base) as http:
        answer = http.get("/login/sso", follow_redirects=True)
        assert answer.status_code == 403
        assert "您的账号在客服系统中没有角色" in answer.text
    assert _agent(seeded_url, "zhang.wei") is None
    (refusal,) = _audit(seeded_url, "login.sso_refused")
    assert refusal.actor == "zhang.wei" and refusal.details["reason"] == "no_role"
    assert "finance" in refusal.details["detail"]


def test_a_directory_account_does_not_take_over_a_local_user(
    seeded_url: str, provider: TestProvider
) -> None:
    """The seeded local ``admin`` exists: a directory user named admin is refused unless
    link_existing_users is on; nor are users created when create_users is off."""
    provider.reset(preferred_username="admin", groups=["kefu-agents"])
    with LiveServer(_settings(seeded_url, provider)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/login/sso", follow_redirects=True).status_code == 403
    provider.reset(preferred_username="new.person", sub="u-3003")
    settings = _settings(seeded_url, provider, create_users=False)
    with LiveServer(settings) as base, httpx.Client(base_url=base) as http:
        assert http.get("/login/sso", follow_redirects=True).status_code == 403
    reasons = [e.details["reason"] for e in _audit(seeded_url, "login.sso_refused")]
    assert reasons == ["name_taken", "not_provisioned"]
    admin = _agent(seeded_url, "admin")
    assert admin is not None and admin.role == "admin" and _agent(seeded_url, "new.person") is None


def test_admins_give_kefus_code_too_unless_the_provider_asked_for_one(
    seeded_url: str, provider: TestProvider
) -> None:
    """totp_required_roles holds for single sign-on as for passwords, except when the ID token
    says (amr) that the provider asked for a second factor itself."""
    provider.reset(groups=["kefu-admins"])
    settings = _settings(seeded_url, provider).model_copy(update={"totp_required_roles": ["admin"]})
    with LiveServer(settings) as base, httpx.Client(base_url=base) as http:
        landed = http.get("/login/sso", follow_redirects=True)
        assert landed.url.path == "/login/totp" and 'data-testid="totp-qr"' in landed.text
        assert http.get("/api/v1/users", follow_redirects=False).status_code == 401
        secret = re.search(r'data-secret="([A-Z2-7]+)"', landed.text).group(1)
        code = totp.code_at(secret, totp.step_at(utcnow()))
        token = CSRF.search(landed.text).group(1)
        done = http.post("/login/totp", data={"code": code, "csrf": token}, follow_redirects=False)
        assert done.status_code == 303
        assert http.get("/api/v1/users", follow_redirects=False).status_code == 200
        provider.reset(groups=["kefu-admins"], sub="u-4004", preferred_username="wang.fang",
                       amr=["pwd", "otp"])  # fmt: skip
        with httpx.Client(base_url=base) as other:
            assert other.get("/login/sso", follow_redirects=True).url.path == "/"
            assert other.get("/api/v1/users", follow_redirects=False).status_code == 200
    assert [e.actor for e in _audit(seeded_url, "login.success")] == ["zhang.wei", "wang.fang"]


def test_a_loopback_provider_needs_the_allow_list(seeded_url: str, provider: TestProvider) -> None:
    """The provider's URLs go through the outbound-URL guard like any other."""
    provider.reset()
    settings = _settings(seeded_url, provider, allow=False)
    with LiveServer(settings) as base, httpx.Client(base_url=base) as http:
        answer = http.get("/login/sso", follow_redirects=False)
        assert answer.status_code == 502 and "无法访问" in answer.text
    assert provider.requests == []


def test_password_login_can_be_turned_off(seeded_url: str, provider: TestProvider) -> None:
    provider.reset()
    settings = _settings(seeded_url, provider, password_login=False)
    with LiveServer(settings) as base, httpx.Client(base_url=base) as http:
        page = http.get("/login")
        assert 'name="password"' not in page.text and "使用单点登录" in page.text
        answer = http.post("/login", data={"username": "admin", "password": "kefu-demo-2026"})
        assert answer.status_code == 403 and "请使用单点登录" in answer.text
    assert _audit(seeded_url, "login.success") == [] and _audit(seeded_url, "login.failed") == []


def test_without_oidc_settings_there_is_no_single_sign_on(client) -> None:  # type: ignore[no-untyped-def]
    assert "使用单点登录" not in client.get("/login").text
    assert client.get("/login/sso", follow_redirects=False).status_code == 404
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 404
