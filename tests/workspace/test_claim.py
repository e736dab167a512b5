"""Claiming (认领) a waiting conversation: from the conversation page and the inbox, only with
the queue's skill, atomically (two agents at once: exactly one wins), audited; a reply typed on
a conversation that is not yours is kept as a draft next to the claim button (issue 23,
finding 1)."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from kefu.agents.models import Agent
from kefu.audit.models import AuditEntry
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.routing import service
from kefu.routing.intake import open_conversation
from kefu.routing.models import RoutingEvent, RoutingTask, TaskState
from tests.conftest import CSRF, login

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def waiting_conversation(client, text: str = "信用卡账单金额不对", **extra) -> int:  # type: ignore[no-untyped-def]
    """A conversation nobody is offered: every agent is away when it arrives."""
    client.cookies.clear()
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    body = {
        "channel": "wechat",
        "contact": "13800138000",
        "text": text,
        "customer_no": "C0000000001",
    }
    response = client.post("/api/v1/conversations", json={**body, **extra})
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "waiting", response.json()
    return response.json()["conversation_id"]


def as_agent(client, username: str, presence: str = "away") -> str:  # type: ignore[no-untyped-def]
    """Signed in (login makes one online; 'away' keeps routing from offering them work)."""
    client.cookies.clear()
    assert login(client, username).status_code == 303
    assert client.put("/api/v1/me/presence", json={"presence": presence}).status_code == 200
    page = client.get("/workspace/inbox")
    return CSRF.search(page.text).group(1)


def test_reply_on_a_waiting_conversation_is_kept_as_a_draft_then_claimed_and_sent(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("agent1", "agent2", "agent3"):
        as_agent(client, name)
    cid = waiting_conversation(client)
    csrf = as_agent(client, "agent1")
    draft = "您好，我是信用卡客服，马上为您核对账单 <b>明细</b>"
    response = client.post(
        f"/workspace/conversations/{cid}/act",
        data={"csrf": csrf, "action": "reply", "text": draft},
        follow_redirects=False,
    )
    # Not sent, not lost: the page comes back with the draft in the reply box, a Chinese
    # explanation and the claim button on the same page.
    assert response.status_code == 409
    page = response.text
    assert "此会话尚未分配给您" in page and "草稿" in page
    assert html.escape(draft, quote=False) in page and "<b>明细</b>" not in page
    assert 'data-testid="claim"' in page and 'data-testid="claim-send"' in page
    assert 'href="/"' in page  # the layout's navigation is there
    messages = client.get(f"/api/v1/conversations/{cid}").json()["messages"]
    assert [m["body"] for m in messages if m["direction"] == "out"] == []

    claimed = client.post(
        f"/workspace/conversations/{cid}/claim",
        data={"csrf": csrf, "text": draft},
        follow_redirects=False,
    )
    assert claimed.status_code == 303
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    assert detail["assigned_agent_id"] is not None and detail["routing"]["state"] == "assigned"
    assert [m["body"] for m in detail["messages"] if m["direction"] == "out"] == [draft]
    assert "claimed" in [e["kind"] for e in detail["events"]]
    audit = client.get("/api/v1/conversations")  # agent reaches their pages afterwards
    assert audit.status_code == 200


def test_claim_needs_the_queues_skill_and_says_so_in_chinese(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("agent1", "agent2", "agent3"):
        as_agent(client, name)
    cid = waiting_conversation(client)  # the credit-card queue
    csrf = as_agent(client, "agent3")  # deposit and wealth only
    inbox = client.get("/workspace/inbox").text
    assert f'data-testid="claim-{cid}"' not in inbox
    refused = client.post(f"/api/v1/conversations/{cid}/claim")
    assert refused.status_code == 403
    assert "信用卡" in refused.json()["detail"] and "技能" in refused.json()["detail"]
    page = client.post(
        f"/workspace/conversations/{cid}/claim", data={"csrf": csrf, "text": "草稿一句"}
    )
    assert page.status_code == 403 and "技能" in page.text and "草稿一句" in page.text

    csrf = as_agent(client, "agent1")
    inbox = client.get("/workspace/inbox").text
    assert f'data-testid="claim-{cid}"' in inbox
    taken = client.post(
        f"/workspace/conversations/{cid}/claim",
        data={"csrf": csrf, "back": "/workspace/inbox"},
        follow_redirects=False,
    )
    assert taken.status_code == 303 and taken.headers["location"] == "/workspace/inbox"
    mine = client.get("/api/v1/inbox").json()["mine"]
    assert cid in [i["id"] for i in mine]

    as_agent(client, "agent2")
    late = client.post(f"/api/v1/conversations/{cid}/claim")
    assert late.status_code == 409 and "李晓雨" in late.json()["detail"]
    assert "已领取" in late.json()["detail"]


def test_roles_that_do_not_handle_conversations_cannot_claim(client) -> None:  # type: ignore[no-untyped-def]
    cid = waiting_conversation(client)
    for name in ("admin", "analyst", "teller"):
        client.cookies.clear()
        login(client, name)
        assert client.post(f"/api/v1/conversations/{cid}/claim").status_code == 403, name


# -- real parallel claims on separate connections (SQLite and PostgreSQL) -------------------------
async def _prepare(url: str, n: int) -> tuple[list[int], list[int]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(update(RoutingTask).values(state=TaskState.COMPLETED))
            await session.execute(update(Agent).values(presence="away"))
            agents = list(
                await session.scalars(
                    select(Agent.id).where(
                        Agent.username.in_(["agent1", "agent2", "agent3", "supervisor"])
                    )
                )
            )
            ids = []
            for i in range(n):
                conversation, _ = await open_conversation(
                    session,
                    channel="weibo",
                    contact=f"weibo_user_{i}",
                    text="你好，咨询一下",
                    now=NOW,
                )
                ids.append(conversation.id)
        return ids, agents
    finally:
        await engine.dispose()


async def _claimer(url: str, cid: int, agent_id: int, start: asyncio.Event) -> str:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await start.wait()
            try:
                async with session.begin():
                    await service.claim(
                        session,
                        conversation_id=cid,
                        agent_id=agent_id,
                        now=NOW,
                        actor=str(agent_id),
                    )
                return "won"
            except service.ClaimRefused as exc:
                return exc.reason
    finally:
        await engine.dispose()


async def _race(url: str, ids: list[int], agents: list[int]) -> list[list[str]]:
    outcomes = []
    for cid in ids:
        start = asyncio.Event()
        runs = [asyncio.create_task(_claimer(url, cid, a, start)) for a in agents]
        await asyncio.sleep(0.2)  # every claimer has its connection before the start signal
        start.set()
        outcomes.append(list(await asyncio.gather(*runs)))
    return outcomes


async def _final(
    url: str, ids: list[int]
) -> tuple[list[tuple[int, str, int | None, int | None]], int, int]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (await session.execute(
                select(RoutingTask.conversation_id, RoutingTask.state, RoutingTask.agent_id,
                       Conversation.assigned_agent_id)
                .join(Conversation, Conversation.id == RoutingTask.conversation_id)
                .where(RoutingTask.conversation_id.in_(ids))
            )).all()  # fmt: skip
            claimed = len(list(await session.scalars(
                select(RoutingEvent.id).where(RoutingEvent.kind == "claimed", RoutingEvent.conversation_id.in_(ids))
            )))  # fmt: skip
            audited = len(list(await session.scalars(
                select(AuditEntry.id).where(AuditEntry.action == "conversation.claim")
            )))  # fmt: skip
            return [tuple(r) for r in rows], claimed, audited  # type: ignore[misc]
    finally:
        await engine.dispose()


def test_concurrent_claims_exactly_one_wins(seeded_url: str) -> None:
    ids, agents = asyncio.run(_prepare(seeded_url, 6))
    assert len(agents) == 4
    outcomes = asyncio.run(_race(seeded_url, ids, agents))
    for cid, result in zip(ids, outcomes, strict=True):
        assert sorted(result).count("won") == 1, (cid, result)
        assert set(result) - {"won"} <= {"taken"}, (cid, result)
    rows, claimed, audited = asyncio.run(_final(seeded_url, ids))
    assert all(state == "assigned" and agent == assigned for _, state, agent, assigned in rows), (
        rows
    )
    assert claimed == len(ids) and audited == len(ids)


def test_error_pages_for_staff_are_chinese_with_a_way_back(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("agent1", "agent2", "agent3"):
        as_agent(client, name)
    cid = waiting_conversation(client)
    csrf = as_agent(client, "agent1")
    refused = client.post(
        f"/workspace/conversations/{cid}/routing",
        data={"csrf": csrf, "action": "close", "text": "resolved"},
        headers={"accept": "text/html"},
    )
    assert refused.status_code == 403
    assert "此会话未分配给您" in refused.text and "not assigned" not in refused.text
    assert 'href="/"' in refused.text and "返回" in refused.text
    missing = client.get("/workspace/conversations/999999")
    assert missing.status_code == 404 and "没有会话 999999" in missing.text
    english = client.post(
        f"/workspace/conversations/{cid}/routing?lang=en",
        data={"csrf": csrf, "action": "close", "text": "resolved"},
    )
    assert "not assigned to you" in english.text  # English on request


def test_the_list_shows_unanswered_messages_and_the_sla_countdown(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("agent1", "agent2", "agent3"):
        as_agent(client, name)
    cid = waiting_conversation(client)
    csrf = as_agent(client, "agent1")
    item = next(i for i in client.get("/api/v1/inbox").json()["queue"] if i["id"] == cid)
    assert item["unanswered"] == 1 and item["sla_clock"] == "first_response"
    assert 0 < item["sla_left"] <= 120  # the credit-card queue answers within two minutes
    page = client.get("/workspace/inbox").text
    assert re.search(rf'data-testid="unread-{cid}"[^>]*>1<', page) and "首次响应 剩余" in page
    client.post(f"/workspace/conversations/{cid}/claim", data={"csrf": csrf, "text": "您好"})
    item = next(i for i in client.get("/api/v1/inbox").json()["mine"] if i["id"] == cid)
    assert item["unanswered"] == 0 and item["sla_clock"] == "resolution"  # first response given
