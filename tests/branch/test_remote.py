"""VTM and hybrid counters served through routing: a machine's ticket becomes a routed
conversation, offered only to an online agent with the remote-teller skill and room on the
vtm channel (two sessions each), and finishing the session completes the ticket and frees the
machine for the next. Then "3 ahead" on each ticket's own channel, and a ticket from the
WeChat hall. On SQLite and, with KEFU_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent, AgentSkill, Skill
from kefu.branch import notices, queue, remote
from kefu.branch.models import BranchTicket
from kefu.config import load_settings
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.hall.h5.signing import sign
from kefu.routing import service as routing
from kefu.routing.models import RoutingTask, TaskState
from tests.branch.conftest import NOW
from tests.branch.test_forms import ID
from tests.branch.test_views import CSRF, csrf
from tests.conftest import login

SECRET = "test-secret"

pytestmark = pytest.mark.db


async def agent(db: AsyncSession, name: str, *, skilled: bool, presence: str = "online") -> Agent:
    row = Agent(username=name, display_name=name, role="agent", password_hash="x",
                presence=presence)  # fmt: skip
    db.add(row)
    await db.flush()
    if skilled:
        skill = await db.scalar(select(Skill).where(Skill.name == remote.SKILL))
        if skill is None:
            skill = Skill(name=remote.SKILL, label="远程柜员")
            db.add(skill)
            await db.flush()
        db.add(AgentSkill(agent_id=row.id, skill_id=skill.id, proficiency=3))
        await db.flush()
    return row


async def machines(db: AsyncSession, count: int, kind: str = "vtm") -> None:
    for number in range(1, count + 1):
        counter = await queue.add_counter(db, branch_code="SZ001", number=50 + number,
                                          services=["cash", "card"], kind=kind)  # fmt: skip
        await queue.set_counter_state(db, counter_id=counter.id, state="open")


def test_the_workflow_gains_the_queue_and_rule_once() -> None:
    document = {"queues": [{"name": "general"}], "rules": [{"name": "crisis"}],
                "capacity": {"sms": 5}}  # fmt: skip
    changed = remote.routing_document(document)
    assert changed is not None and document["rules"] == [{"name": "crisis"}]  # not mutated
    assert [r["name"] for r in changed["rules"]] == [remote.QUEUE, "crisis"]
    assert changed["capacity"] == {"sms": 5, "vtm": 2}
    assert remote.routing_document(changed) is None


async def test_machines_tickets_go_to_the_skilled_agent_with_room_for_two(
    session: AsyncSession,
) -> None:
    db = session
    assert await remote.ensure_routing(db, actor="test") is True
    assert await remote.ensure_routing(db, actor="test") is False  # once
    skilled = await agent(db, "vtm-skilled", skilled=True)
    plain = await agent(db, "vtm-plain", skilled=False)
    paused = await agent(db, "vtm-paused", skilled=True, presence="away")
    await machines(db, 3)
    for minute in range(3):
        await queue.take_ticket(db, branch_code="SZ001", service_code="cash",
                                now=NOW + timedelta(minutes=minute))  # fmt: skip
    handed = await remote.dispatch(db, "SZ001", NOW + timedelta(minutes=5))
    assert [t.label for t in handed] == ["A001", "A002", "A003"]
    assert all(t.state == "called" and t.conversation_id for t in handed)
    made = await routing.assign_waiting(db, now=NOW + timedelta(minutes=5))
    # The skilled online agent takes two (capacity 2 on vtm); neither the agent without the
    # skill nor the paused one gets any; the third machine's customer waits in routing.
    assert sorted(agent_id for _, agent_id in made) == [skilled.id, skilled.id]
    assert plain.id not in {a for _, a in made} and paused.id not in {a for _, a in made}
    tasks = {t.conversation_id: t for t in await db.scalars(select(RoutingTask))}
    assert {t.queue for t in tasks.values()} == {remote.QUEUE}
    waiting = [t for t in tasks.values() if t.state == TaskState.WAITING]
    assert len(waiting) == 1

    conversation_id = next(c for c, _ in made)
    first = await remote.ticket_of(db, conversation_id)
    await routing.accept(db, conversation_id=conversation_id, agent_id=skilled.id,
                         now=NOW + timedelta(minutes=6), actor="vtm-skilled")  # fmt: skip
    await queue.take_ticket(db, branch_code="SZ001", service_code="card",
                            now=NOW + timedelta(minutes=6))  # fmt: skip
    done = await remote.finish(db, conversation_id=conversation_id, actor="vtm-skilled",
                               now=NOW + timedelta(minutes=9))  # fmt: skip
    assert done.id == first.id and done.state == "done" and done.finished_at is not None
    conversation = await db.get(Conversation, conversation_id)
    assert conversation.status == "closed"
    assert (await db.get(RoutingTask, conversation_id)).state == TaskState.COMPLETED
    # The freed machine called the next ticket at once, as a new routed conversation.
    card = await db.scalar(select(BranchTicket).where(BranchTicket.service == "card"))
    assert card.state == "called" and card.counter_id == first.counter_id
    assert card.conversation_id not in (None, conversation_id)
    with pytest.raises(queue.QueueError) as again:
        await remote.finish(db, conversation_id=conversation_id, actor="vtm-skilled")
    assert again.value.code == "finished"

    # The agent is down to one session: the waiting one can now be offered to them.
    made = await routing.assign_waiting(db, now=NOW + timedelta(minutes=10))
    assert [a for _, a in made] == [skilled.id]


async def test_a_session_closed_in_the_workspace_frees_the_machine(session: AsyncSession) -> None:
    db = session
    await remote.ensure_routing(db, actor="test")
    await machines(db, 1, kind="hybrid")
    for minute in range(2):
        await queue.take_ticket(db, branch_code="SZ001", service_code="cash",
                                now=NOW + timedelta(minutes=minute))  # fmt: skip
    [first] = await remote.dispatch(db, "SZ001", NOW + timedelta(minutes=2))
    assert await remote.dispatch(db, "SZ001", NOW + timedelta(minutes=3)) == []  # busy
    await routing.close(db, conversation_id=first.conversation_id, now=NOW + timedelta(minutes=4),
                        actor="agent")  # fmt: skip
    [second] = await remote.dispatch(db, "SZ001", NOW + timedelta(minutes=5))
    assert second.label == "A002" and first.state == "done"


async def test_a_teller_kind_is_checked(session: AsyncSession) -> None:
    with pytest.raises(queue.QueueError) as bad:
        await queue.add_counter(session, branch_code="SZ001", number=9, services=["cash"],
                                kind="robot")  # fmt: skip
    assert bad.value.code == "bad_kind"


# --- "3 ahead" on the ticket's own channel (kefu.branch.notices): SMS in the transaction, a
# WeChat template after the commit, a web chat message in the transaction, woken after.


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def enqueue(
        self, db: object, *, to: str, text: str, kind: str, idempotency_key: str
    ) -> None:
        self.calls.append(("sms", (to, text, idempotency_key)))

    async def notify_requested(self, account: str, openid: str, **kw: Any) -> bool:
        self.calls.append(("wechat", (account, openid, kw["text"], kw["idempotency_key"])))
        return True

    async def notify(self, db: object, session_id: str, text: str) -> bool:
        self.calls.append(("webchat", (session_id, text)))
        return session_id != "gone"


async def test_each_ticket_is_told_once_on_its_own_channel(session: AsyncSession) -> None:
    db = session
    counter = await queue.add_counter(db, branch_code="SZ001", number=1, services=["cash"])
    await queue.set_counter_state(db, counter_id=counter.id, state="open")
    keys = [None, "phone:13800138000", notices.wechat_key("hall", "oPENID1"),
            notices.webchat_key("s1"), notices.webchat_key("gone")]  # fmt: skip
    tickets = [await queue.take_ticket(db, branch_code="SZ001", service_code="cash",
                                       customer_key=k, notify_ahead=3 if k else None, now=NOW)
               for k in keys]  # fmt: skip
    recorder = Recorder()
    woken: list[str] = []
    state = SimpleNamespace(
        sms=recorder, wechat_runtime=SimpleNamespace(outbound=recorder),
        webchat=SimpleNamespace(notify=recorder.notify,
                                watchers=SimpleNamespace(wake=woken.append)),
    )  # fmt: skip
    await queue.call_next(db, counter_id=counter.id, now=NOW)  # the first: 3 ahead of the last
    due = await queue.due_notices(db, "SZ001")
    assert sorted(t.id for t, _ in due) == sorted(t.id for t in tickets[1:])
    after = await notices.send(state, db, "深圳分行", due)
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds == ["sms", "webchat", "webchat"]  # WeChat waits for the commit
    assert recorder.calls[0][1][0] == "13800138000" and "A002" in recorder.calls[0][1][1]
    assert len(after) == 2  # the WeChat send and the live chat's wake; not the gone chat
    for go in after:
        await go()
    account, openid, text, key = recorder.calls[-1][1]
    assert (account, openid) == ("hall", "oPENID1") and "A003" in text
    assert key == f"branch-ticket:{tickets[2].id}" and woken == ["s1"]
    await queue.call_next(db, counter_id=counter.id, now=NOW)
    assert await queue.due_notices(db, "SZ001") == []  # once each


@pytest.fixture
def app_settings(seeded_url: str):  # type: ignore[no-untyped-def]
    """The shared app settings plus a WeChat hall account (its H5 queue page): one seeded
    app per backend serves the VTM path and the WeChat ticket."""
    return load_settings(
        database_url=seeded_url, secret_key=SECRET, wechat_api_base_url="http://127.0.0.1:9",
        wechat_oauth_base_url="http://127.0.0.1:9",
        wechat_accounts=[{"name": "hall", "app_id": "wxhall0000000001",
                          "app_secret": "hall-secret", "token": "hall-token", "mode": "plain",
                          "display_name": "kefu银行"}],
    )  # fmt: skip


def _db(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db, db.begin():
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_a_vtm_session_through_the_pages(client: TestClient, app_settings) -> None:  # type: ignore[no-untyped-def]
    """Manager adds a VTM, teller opens it, a customer's pre-filled form takes a ticket that
    the VTM hands to routing; the skilled agent's session page shows ticket, masked form and
    customer; a teller cannot call for the machine; finishing completes the ticket."""
    url = app_settings.database_url
    login(client, "supervisor")
    token = csrf(client, "/branch/manage")
    added = client.post("/branch/manage/B001/counters", follow_redirects=False,
                        data={"number": "7", "services": "account", "kind": "vtm", "csrf": token})  # fmt: skip
    assert added.status_code == 303
    bad = client.post("/branch/manage/B001/counters",
                      data={"number": "8", "services": "cash", "kind": "robot", "csrf": token})  # fmt: skip
    assert bad.status_code == 409 and "窗口类型" in bad.text
    slots = client.post("/branch/manage/B001/slots", data={"capacity": "4", "csrf": token},
                        follow_redirects=False)  # fmt: skip
    assert (
        slots.status_code == 303
        and 'name="capacity" type="number" min="1" max="100" value="4"'
        in client.get("/branch/manage").text
    )
    assert (
        client.post("/branch/manage/B001/slots", data={"capacity": "0", "csrf": token}).status_code
        == 422
    )
    client.cookies.clear()
    login(client, "teller")
    page = client.get("/branch/counter?branch=B001")
    counter_id = re.search(r"/branch/counter/(\d+)/open", page.text).group(1)
    token = CSRF.search(page.text).group(1)
    client.post(f"/branch/counter/{counter_id}/open", data={"csrf": token})
    teller = dict(client.cookies)

    client.cookies.clear()  # the customer fills the account-opening form on a phone
    token = csrf(client, "/branch/forms/account_opening")
    saved = client.post("/branch/forms/account_opening", data={
        "csrf": token, "branch": "B001", "name": "张三", "id_number": ID, "mobile": "13800138000",
        "account_type": "savings", "address": "深圳市福田区1号"})  # fmt: skip
    assert saved.status_code == 200 and "C001" in saved.text

    async def route(db: AsyncSession) -> tuple[int, list[tuple[int, int]]]:
        ticket = await db.scalar(select(BranchTicket).where(BranchTicket.label == "C001"))
        assert ticket.state == "called" and ticket.conversation_id
        skill = Skill(name=remote.SKILL, label="远程柜员")
        db.add(skill)
        await db.flush()
        for name in ("agent1", "agent2"):
            row = await db.scalar(select(Agent).where(Agent.username == name))
            row.presence = "online"
            if name == "agent1":
                db.add(AgentSkill(agent_id=row.id, skill_id=skill.id, proficiency=3))
        await db.flush()
        return ticket.conversation_id, await routing.assign_waiting(db, now=utcnow())

    conversation_id, made = _db(url, route)
    agent1 = _db(url, lambda db: db.scalar(select(Agent.id).where(Agent.username == "agent1")))
    assert [a for c, a in made if c == conversation_id] == [agent1]  # not agent2 (no skill)

    client.cookies.clear()
    login(client, "agent1")
    session = client.get(f"/branch/remote/{conversation_id}")
    assert session.status_code == 200 and "C001" in session.text
    assert "张三" not in session.text and ID not in session.text and ID[-4:] in session.text
    assert "13800138000" not in session.text and "138****8000" in session.text
    assert 'data-testid="remote-finish"' not in session.text  # offered, not accepted yet
    token = CSRF.search(session.text).group(1)
    # Claiming takes the offer (or the task, if the 30-second offer lapsed on a slow machine
    # and went back to the queue: agent1 is the only one with the skill either way).
    accepted = client.post(f"/workspace/conversations/{conversation_id}/claim",
                           data={"csrf": token}, follow_redirects=False)  # fmt: skip
    assert accepted.status_code == 303, accepted.text
    assert (
        f"/branch/remote/{conversation_id}"
        in client.get(f"/workspace/conversations/{conversation_id}").text
    )  # the workspace links to it
    assert 'data-testid="remote-finish"' in client.get(f"/branch/remote/{conversation_id}").text
    # A text reply would reach no one (the machine is a video session): the desk says so and
    # the reply is refused in words, not accepted and dropped.
    desk = client.get(f"/workspace/conversations/{conversation_id}").text
    assert 'data-testid="reply-textless"' in desk and 'data-testid="reply-text"' not in desk
    refused_reply = client.post(f"/api/v1/conversations/{conversation_id}/messages",
                                json={"body": "您好"}, headers={"X-CSRF-Token": CSRF.search(desk).group(1)})  # fmt: skip
    assert refused_reply.status_code == 409 and "文字回复不会发送" in refused_reply.json()["detail"]
    outbound = _db(url, lambda db: db.scalar(select(func.count()).select_from(Message).where(
        Message.conversation_id == conversation_id, Message.direction == "out")))  # fmt: skip
    assert outbound == 0

    client.cookies.clear()
    client.cookies.update(teller)
    page = client.get(f"/branch/counter?branch=B001&counter={counter_id}")
    refused = client.post(f"/branch/counter/{counter_id}/call",
                          data={"csrf": CSRF.search(page.text).group(1)})  # fmt: skip
    assert refused.status_code == 409 and "远程柜员" in refused.text

    client.cookies.clear()
    login(client, "agent2")  # not theirs: may not finish it
    other = client.get(f"/branch/remote/{conversation_id}")
    assert other.status_code == 403 or 'data-testid="remote-finish"' not in other.text
    client.cookies.clear()
    login(client, "agent1")
    token = csrf(client, f"/branch/remote/{conversation_id}")
    done = client.post(f"/branch/remote/{conversation_id}/finish", follow_redirects=False,
                       data={"csrf": token, "outcome": "done"})  # fmt: skip
    assert done.status_code == 303
    state = _db(url, lambda db: db.scalar(select(BranchTicket.state).where(
        BranchTicket.label == "C001")))  # fmt: skip
    assert state == "done"
    again = client.post(f"/branch/remote/{conversation_id}/finish",
                        data={"csrf": token, "outcome": "done"})  # fmt: skip
    assert again.status_code == 409

    # The WeChat hall's queue page (under the hall's cookie path): no session → WeChat
    # sign-in; with one, a ticket for the follower (openid key: "3 ahead" comes by WeChat).
    client.cookies.clear()
    assert client.get("/h5/hall/queue", follow_redirects=False).status_code == 302
    client.cookies.set("kefu_h5", sign(SECRET, "h5-session", ["hall", "o-h5"], ttl=600),
                       path="/h5/hall")  # fmt: skip
    page = client.get("/h5/hall/queue?service=account")
    assert page.status_code == 200 and "北京" in page.text
    form = {"branch": "B001", "service": "account", "notify": "true",
            "csrf": CSRF.search(page.text).group(1)}  # fmt: skip
    taken = client.post("/h5/hall/queue", data=form)
    assert taken.status_code == 200 and "C002" in taken.text, taken.text
    again = client.post("/h5/hall/queue", data=form)
    assert again.status_code == 409 and "C002" in again.text  # one open ticket each
    assert client.post("/h5/hall/queue", data={**form, "csrf": "x"}).status_code == 401
    key = _db(url, lambda db: db.scalar(select(BranchTicket.customer_key).where(
        BranchTicket.label == "C002")))  # fmt: skip
    assert key == notices.wechat_key("hall", "o-h5")
