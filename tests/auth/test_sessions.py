"""Issue 21, finding 5: a session ends at logout, by an administrator, and when idle; a cookie
copied before any of these is worth nothing after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from kefu.app import create_app
from kefu.config import load_settings
from kefu.db.base import utcnow
from kefu.db.engine import make_engine
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def _copy(client: TestClient) -> dict[str, str]:
    return {"kefu_session": client.cookies.get("kefu_session")}


def test_a_cookie_copied_before_logout_is_refused_after(client: TestClient) -> None:
    assert login(client, "admin").status_code == 303
    stolen = _copy(client)
    assert client.get("/api/v1/users").status_code == 200
    token = CSRF.search(client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.update(stolen)  # the attacker replays the cookie saved before logout
    assert client.get("/api/v1/users").status_code == 401
    page = client.get("/admin/users", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_an_administrator_ends_every_session_of_a_user(client: TestClient) -> None:
    assert login(client, "agent1").status_code == 303
    assert client.get("/api/v1/conversations").status_code == 200
    victim = _copy(client)
    client.cookies.clear()
    assert login(client, "admin").status_code == 303
    admin = _copy(client)
    answer = client.post("/api/v1/users/agent1/sessions/revoke")
    assert answer.status_code == 200 and answer.json() == {"revoked": 1}
    assert client.post("/api/v1/users/nobody/sessions/revoke").status_code == 404
    client.cookies.clear()
    client.cookies.update(victim)
    assert client.get("/api/v1/conversations").status_code == 401
    assert client.post("/api/v1/users/admin/sessions/revoke").status_code == 401
    client.cookies.clear()
    client.cookies.update(admin)  # the administrator's own session lives on
    assert client.get("/api/v1/users").status_code == 200


def test_an_idle_session_ends(client: TestClient, app_settings) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from kefu.auth.models import AuthSession

    assert login(client, "agent1").status_code == 303
    assert client.get("/api/v1/conversations").status_code == 200

    async def age() -> None:
        engine = make_engine(app_settings.database_url)
        try:
            async with engine.begin() as conn:
                idle = timedelta(seconds=app_settings.session_idle_seconds + 1)
                await conn.execute(update(AuthSession).values(last_seen_at=utcnow() - idle))
        finally:
            await engine.dispose()

    asyncio.run(age())
    assert client.get("/api/v1/conversations").status_code == 401


def test_the_session_cookie_is_secure_when_asked(seeded_url: str) -> None:
    settings = load_settings(database_url=seeded_url, secret_key="t", session_cookie_secure=True)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        answer = login(client, "agent1")
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert "kefu_session=" in cookie and "secure" in cookie.lower()
