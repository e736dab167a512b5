"""Issue 21, finding 14: which conversations an agent reads and writes to, by the setting
``conversation_visibility`` (team by default, or own). agent1 and agent2 share the
credit-card skill; agent3 has none of it; agent2 holds conversation "held", "waiting" is
unassigned in the credit-card queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from kefu.agents.models import Agent
from kefu.config import load_settings
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.routing.models import RoutingTask
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


@pytest.fixture(params=["team", "own"])
def desk(request, seeded_url: str) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from kefu.app import create_app

    settings = load_settings(
        database_url=seeded_url, secret_key="test-secret", conversation_visibility=request.param
    )
    with TestClient(create_app(settings)) as client:
        yield client, request.param, seeded_url


async def _set(url: str, conversation_id: int, username: str | None) -> None:
    """Holds the conversation for ``username`` (assigned), or leaves it waiting for nobody."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            agent_id = (
                await session.scalar(select(Agent.id).where(Agent.username == username))
                if username
                else None
            )
            conversation = await session.get(Conversation, conversation_id)
            task = await session.get(RoutingTask, conversation_id)
            assert conversation is not None and task is not None
            conversation.assigned_agent_id = agent_id
            task.agent_id = agent_id
            task.state = "assigned" if agent_id else "waiting"
            task.queue = "credit_card"
    finally:
        await engine.dispose()


def _conversations(client, url: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    ids = []
    for text in ("信用卡账单不对，卡号6214830000001126488", "信用卡额度怎么提高"):
        answer = client.post("/api/v1/conversations", json={"channel": "wechat", "contact": "13800138000",
                                                            "text": text, "customer_no": "C0000000002"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["conversation_id"])
    held, waiting = ids
    asyncio.run(_set(url, held, "agent2"))
    asyncio.run(_set(url, waiting, None))
    client.cookies.clear()
    return held, waiting


def _reads(client, cid: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    listed = [c["id"] for c in client.get("/api/v1/conversations").json()]
    page = client.get("/workspace/conversations").text
    return {
        "api": client.get(f"/api/v1/conversations/{cid}").status_code,
        "page": client.get(f"/workspace/conversations/{cid}").status_code,
        "panel": client.get(f"/api/v1/conversations/{cid}/customer").status_code,
        "listed": 200 if cid in listed else 403,
        "listed_page": 200 if f'href="/workspace/conversations/{cid}"' in page else 403,
    }


def _writes(client, cid: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    token = CSRF.search(client.get("/workspace/inbox").text).group(1)
    form = client.post(f"/workspace/conversations/{cid}/act", follow_redirects=False,
                       data={"action": "note", "text": "表单备注", "csrf": token})  # fmt: skip
    preview = client.post(f"/api/v1/conversations/{cid}/preview", json={"body": "{title}您好"})
    return {
        "note": client.post(
            f"/api/v1/conversations/{cid}/notes", json={"body": "备注"}
        ).status_code,
        "form": 201 if form.status_code == 303 else form.status_code,
        "preview": 200 if preview.status_code == 200 else preview.status_code,
        "reply": client.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": "您好"}
        ).status_code,
    }


def _all(codes: dict[str, int], expected: int) -> bool:
    return all(code == expected for code in codes.values())


def test_reads_and_writes_follow_the_setting(desk) -> None:  # type: ignore[no-untyped-def]
    client, mode, url = desk
    held, waiting = _conversations(client, url)

    # agent1: same skill as the holder. Reads it under team, not under own; never writes.
    login(client, "agent1")
    reads = _reads(client, held)
    assert _all(reads, 200 if mode == "team" else 403), reads
    past = [p["id"] for p in client.get(f"/api/v1/conversations/{waiting}/customer").json()["past"]]
    assert (held in past) == (mode == "team")
    writes = _writes(client, held)
    assert writes == {"note": 403, "form": 403, "preview": 403, "reply": 403}, writes
    # The unassigned waiting one: read and noted in either mode (a reply needs a claim).
    assert _all(_reads(client, waiting), 200)
    assert {k: v for k, v in _writes(client, waiting).items() if k != "reply"} == {
        "note": 201, "form": 201, "preview": 200}  # fmt: skip

    # agent3: no credit-card skill, so not even team visibility reaches agent2's conversation.
    client.cookies.clear()
    login(client, "agent3")
    assert _all(_reads(client, held), 403)
    assert _all(_reads(client, waiting), 200)
    # The customer's other conversation agent3 may not read is not in the panel's past.
    past = [p["id"] for p in client.get(f"/api/v1/conversations/{waiting}/customer").json()["past"]]
    assert held not in past

    # The holder and the supervisor read and write, in either mode.
    for username in ("agent2", "supervisor"):
        client.cookies.clear()
        login(client, username)
        assert _all(_reads(client, held), 200), username
        writes = _writes(client, held)
        assert writes == {"note": 201, "form": 201, "preview": 200, "reply": 201}, (
            username,
            writes,
        )
