"""Presence (issue 23, finding 6): 在线坐席 counts only the roles that handle conversations;
presence ends on logout and after a missed heartbeat; agent states ready / not ready with a
reason (休息, 培训, 话后处理) / busy / offline."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from kefu.agents.models import Agent
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.workspace import presence
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def online_count(client) -> int:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/stats/home").json()["agents_online"]


def test_only_roles_that_handle_conversations_count_as_agents_online(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("admin", "analyst", "teller"):
        client.cookies.clear()
        assert login(client, name).status_code == 303
    assert online_count(client) == 0  # three people logged in, none of them an agent
    client.cookies.clear()
    login(client, "agent1")
    assert online_count(client) == 1
    client.cookies.clear()
    login(client, "supervisor")
    assert online_count(client) == 2
    home = client.get("/").text
    token = CSRF.search(home).group(1)
    client.post("/logout", data={"csrf": token})  # presence ends on logout
    client.cookies.clear()
    login(client, "analyst")
    assert online_count(client) == 1


async def _agents(url: str) -> dict[str, tuple[str, datetime | None]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(select(Agent.username, Agent.presence, Agent.last_seen_at))
            return {u: (p, s) for u, p, s in rows}
    finally:
        await engine.dispose()


async def _expire(url: str, now: datetime, heartbeat: int) -> int:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await presence.expire_silent(session, now=now, heartbeat_seconds=heartbeat)
    finally:
        await engine.dispose()


def test_presence_ends_after_a_missed_heartbeat(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    page = client.get("/workspace/inbox").text
    # The page carries the heartbeat: htmx posts it every presence_heartbeat_seconds.
    assert 'hx-post="/workspace/heartbeat"' in page and "every 30s" in page
    token = CSRF.search(page).group(1)
    assert client.post("/workspace/heartbeat", data={"csrf": token}).status_code == 204
    state, seen = asyncio.run(_agents(seeded_url))["agent1"]
    assert state == "online" and seen is not None
    # One interval later: still there. Two missed heartbeats: offline, not counted.
    assert asyncio.run(_expire(seeded_url, seen + timedelta(seconds=45), 30)) == 0
    assert online_count(client) == 1
    assert asyncio.run(_expire(seeded_url, seen + timedelta(seconds=61), 30)) >= 1
    assert asyncio.run(_agents(seeded_url))["agent1"][0] == "offline"
    assert online_count(client) == 0
    # API clients keep presence the same way.
    assert client.post("/api/v1/me/heartbeat").json() == {"presence": "offline"}
    # The heartbeat does not bring a timed-out agent back silently: they choose 就绪 again.
    assert client.post("/workspace/heartbeat", data={"csrf": token}).status_code == 204
    assert client.get("/api/v1/inbox").json()["presence"] == "offline"


def test_not_ready_with_a_reason_and_no_offers(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    token = CSRF.search(client.get("/workspace/inbox").text).group(1)
    client.post(
        "/workspace/presence", data={"csrf": token, "presence": "away", "reason": "training"}
    )
    inbox = client.get("/workspace/inbox").text
    assert "未就绪 · 培训" in inbox
    assert client.get("/api/v1/inbox").json()["offers"] == []  # the demo queue is not offered
    result = client.put(
        "/api/v1/me/presence", json={"presence": "away", "reason": "after_call_work"}
    )
    assert result.json() == {"presence": "away", "reason": "after_call_work"}
    assert (
        client.put("/api/v1/me/presence", json={"presence": "away", "reason": "lunch"}).status_code
        == 422
    )
    client.cookies.clear()
    login(client, "supervisor")
    board = client.get("/supervisor/queues").text
    assert "未就绪 · 话后处理" in board
    roster = client.get("/supervisor/agents").text  # the roster says the same, in words
    assert re.search(r'data-testid="state-agent1">未就绪 · 话后处理<', roster)
    assert 'data-testid="state-admin"' not in roster  # admins do not take conversations
    client.cookies.clear()
    login(client, "agent1")
    assert client.put("/api/v1/me/presence", json={"presence": "online"}).json()["reason"] is None
    assert client.get("/api/v1/inbox").json()["offers"]  # ready: offered the waiting demo work


def test_silent_staff_of_other_roles_also_go_offline(seeded_url: str) -> None:
    """Admins and tellers are never counted, and their stale presence is cleared too."""

    async def go() -> None:
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                old = datetime(2026, 1, 1, tzinfo=UTC)
                await session.execute(
                    update(Agent).values(presence="online", last_seen_at=old, last_login_at=old)
                )
        finally:
            await engine.dispose()

    asyncio.run(go())
    assert asyncio.run(_expire(seeded_url, datetime.now(UTC), 30)) == 7
    assert {p for p, _ in asyncio.run(_agents(seeded_url)).values()} == {"offline"}


NEW_ROUTES = [
    ("post", "/api/v1/conversations/1/claim", None),
    ("post", "/api/v1/conversations/1/preview", {"body": "{title}您好"}),
    ("post", "/api/v1/me/heartbeat", None),
    ("put", "/api/v1/me/presence", {"presence": "away", "reason": "break"}),
]
NEW_FORMS = [
    "/workspace/conversations/1/claim",
    "/workspace/conversations/1/preview",
    "/workspace/heartbeat",
]


@pytest.mark.parametrize("username", ["admin", "analyst", "teller"])
def test_desk_routes_are_for_roles_that_handle_conversations(client, username: str) -> None:  # type: ignore[no-untyped-def]
    login(client, username)
    token = CSRF.search(client.get("/").text).group(1)
    for method, path, body in NEW_ROUTES:
        response = (
            getattr(client, method)(path, json=body) if body else getattr(client, method)(path)
        )
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
    for path in NEW_FORMS:
        assert client.post(path, data={"csrf": token, "text": "x"}).status_code == 403, path


@pytest.mark.parametrize("username", ["agent1", "supervisor"])
def test_desk_routes_answer_agents_and_supervisors(client, username: str) -> None:  # type: ignore[no-untyped-def]
    login(client, username)
    token = CSRF.search(client.get("/workspace/inbox").text).group(1)
    assert (
        client.post("/api/v1/conversations/1/preview", json={"body": "{title}您好"}).status_code
        == 200
    )
    assert client.post("/api/v1/me/heartbeat").status_code == 200
    assert client.post("/workspace/heartbeat", data={"csrf": token}).status_code == 204
    assert (
        client.post(
            "/workspace/conversations/1/preview", data={"csrf": token, "text": "{title}您好"}
        ).status_code
        == 200
    )


def test_close_with_wrap_up_puts_the_agent_in_after_call_work(client) -> None:  # type: ignore[no-untyped-def]
    """Genesys-style wrap-up: the disposition code and then 话后处理 until the agent is ready."""
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    cid = client.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": "信用卡账单金额不对", "customer_no": "C0000000001",
    }).json()["conversation_id"]  # fmt: skip
    client.cookies.clear()
    login(client, "agent1")
    token = CSRF.search(client.get("/workspace/inbox").text).group(1)
    client.post(f"/workspace/conversations/{cid}/claim", data={"csrf": token})
    page = client.get(f"/workspace/conversations/{cid}").text
    assert 'data-testid="wrap-up"' in page and "话后处理" in page
    client.post(f"/workspace/conversations/{cid}/routing",
                data={"csrf": token, "action": "close", "text": "resolved", "wrap_up": "1"})  # fmt: skip
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    assert detail["status"] == "closed" and detail["routing"]["disposition"] == "resolved"
    inbox = client.get("/api/v1/inbox").json()
    assert inbox["presence"] == "away" and inbox["presence_reason"] == "after_call_work"
    assert inbox["offers"] == []
