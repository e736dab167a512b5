"""Routing state changes against a real database (SQLite, and PostgreSQL in CI)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation
from kefu.routing import service
from kefu.routing.intake import open_conversation
from kefu.routing.models import RoutingEvent, RoutingTask, TaskState
from kefu.routing.rules import WorkflowError
from tests.routing.conftest import NOW, agent_id, set_capacity, set_presence

pytestmark = pytest.mark.db


async def kinds(session: AsyncSession, conversation_id: int) -> list[str]:
    rows = await session.scalars(
        select(RoutingEvent.kind)
        .where(RoutingEvent.conversation_id == conversation_id)
        .order_by(RoutingEvent.id)
    )
    return list(rows)


async def test_offer_accept_close_records_every_step(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent1", "agent2", "agent3")
    conv, task = await open_conversation(session, channel="wechat", contact="13800000000",
                                         text="信用卡账单有问题", now=NOW)  # fmt: skip
    assert (task.rule, task.queue, task.state) == ("credit_card", "credit_card", TaskState.WAITING)
    made = await service.assign_waiting(session, now=NOW)
    agent1 = await agent_id(session, "agent1")
    assert made == [(conv.id, agent1)]  # only agent1 has credit_card >= 4 (bullseye ring 0)
    with pytest.raises(service.RoutingError):
        await service.accept(
            session, conversation_id=conv.id, agent_id=agent1 + 1, now=NOW, actor="x"
        )
    await service.accept(session, conversation_id=conv.id, agent_id=agent1, now=NOW, actor="agent1")
    assert (await session.get(Conversation, conv.id)).assigned_agent_id == agent1
    await service.close(
        session, conversation_id=conv.id, now=NOW, actor="agent1", disposition="resolved"
    )
    assert await kinds(session, conv.id) == ["queued", "offered", "accepted", "closed"]
    assert (await session.get(RoutingTask, conv.id)).state == TaskState.COMPLETED


async def test_offer_timeout_moves_to_the_next_agent(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent1", "agent2")
    conv, _ = await open_conversation(session, channel="sms", contact="x", text="你好", now=NOW)
    first = (await service.assign_waiting(session, now=NOW))[0][1]
    assert await service.expire_offers(session, now=NOW + timedelta(seconds=10)) == 0
    assert await service.expire_offers(session, now=NOW + timedelta(seconds=31)) == 1
    second = (await service.assign_waiting(session, now=NOW + timedelta(seconds=31)))[0][1]
    assert second != first
    await service.reject(session, conversation_id=conv.id, agent_id=second, now=NOW, actor="a")
    task = await session.get(RoutingTask, conv.id)
    assert task.state == TaskState.WAITING and set(task.rejected) == {first, second}
    assert (await kinds(session, conv.id))[-3:] == ["offer_expired", "offered", "rejected"]


async def test_capacity_is_never_exceeded(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent3")
    agent3 = await agent_id(session, "agent3")
    await set_capacity(session, agent3, {"webchat": 2})
    for i in range(5):
        await open_conversation(
            session, channel="webchat", contact=f"c{i}", text="大额存单怎么买", now=NOW
        )
    made = await service.assign_waiting(session, now=NOW)
    assert [a for _, a in made] == [agent3, agent3]
    assert await service.assign_waiting(session, now=NOW) == []
    waiting = await session.scalar(
        select(RoutingTask).where(RoutingTask.state == TaskState.WAITING).limit(1)
    )
    assert waiting is not None


async def test_sticky_to_the_customers_last_agent(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent1", "agent2", "agent3")
    agent2 = await agent_id(session, "agent2")
    earlier = await session.scalar(
        select(Conversation).where(Conversation.customer_id.is_not(None)).limit(1)
    )
    earlier.assigned_agent_id = agent2
    await session.flush()
    from kefu.identity.models import Customer

    customer = await session.get(Customer, earlier.customer_id)
    conv, task = await open_conversation(session, channel="sms", contact="", text="你好",
                                         customer_no=customer.bank_customer_no, now=NOW)  # fmt: skip
    assert task.attributes["last_agent_id"] == agent2
    assert (await service.assign_waiting(session, now=NOW)) == [(conv.id, agent2)]


async def test_transfer_to_agent_requires_presence_and_room(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent1")
    agent1, agent3 = await agent_id(session, "agent1"), await agent_id(session, "agent3")
    conv, _ = await open_conversation(
        session, channel="wechat", contact="x", text="信用卡", now=NOW
    )
    await service.assign_waiting(session, now=NOW)
    await service.accept(session, conversation_id=conv.id, agent_id=agent1, now=NOW, actor="agent1")
    with pytest.raises(service.RoutingError, match="not online"):
        await service.transfer(
            session, conversation_id=conv.id, to_agent_id=agent3, now=NOW, actor="agent1"
        )
    await set_presence(session, "online", "agent3")
    await set_capacity(session, agent3, {"wechat": 0})
    await session.flush()
    with pytest.raises(service.RoutingError, match="no free capacity"):
        await service.transfer(
            session, conversation_id=conv.id, to_agent_id=agent3, now=NOW, actor="agent1"
        )
    await set_capacity(session, agent3, {"wechat": 3})
    await session.flush()
    await service.transfer(
        session,
        conversation_id=conv.id,
        to_agent_id=agent3,
        now=NOW,
        actor="agent1",
        note="理财问题",
    )
    assert (await session.get(Conversation, conv.id)).assigned_agent_id == agent3
    await service.transfer(
        session, conversation_id=conv.id, to_queue="general", now=NOW, actor="agent3"
    )
    task = await session.get(RoutingTask, conv.id)
    assert (task.state, task.rule, task.rejected) == (TaskState.WAITING, "queue:general", [agent3])
    made = await service.assign_waiting(session, now=NOW)
    assert made == [(conv.id, agent1)]


async def test_escalation_goes_to_an_online_supervisor(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent1", "supervisor")
    conv, _ = await open_conversation(
        session, channel="weibo", contact="u1", text="排队太久", now=NOW
    )
    await service.escalate(
        session, conversation_id=conv.id, now=NOW, actor="agent1", reason="客户要求领导处理"
    )
    task = await session.get(RoutingTask, conv.id)
    assert task.escalated and task.agent_id == await agent_id(session, "supervisor")
    events = (
        await session.scalars(select(RoutingEvent).where(RoutingEvent.kind == "escalated"))
    ).all()
    assert events[0].detail["reason"] == "客户要求领导处理"


async def test_queue_limit_overflows_politely(session: AsyncSession) -> None:
    document = {
        "queues": [
            {
                "name": "general",
                "expression": "true",
                "max_waiting": 1,
                "overflow_reply": "稍后回复您",
            }
        ],
        "default": {"targets": [{"queue": "general"}]},
    }
    await service.save_workflow(session, document=document, comment="tiny", actor="admin")
    _, first = await open_conversation(session, channel="sms", contact="a", text="1", now=NOW)
    conv, second = await open_conversation(session, channel="sms", contact="b", text="2", now=NOW)
    assert (first.state, second.state) == (TaskState.WAITING, TaskState.OVERFLOWED)
    await session.refresh(conv, ["messages"])
    assert [m.body for m in conv.messages][-1] == "稍后回复您"


async def test_invalid_workflow_is_not_saved(session: AsyncSession) -> None:
    version, _ = await service.current_workflow(session)
    with pytest.raises(WorkflowError):
        await service.save_workflow(session, document={"queues": []}, comment="", actor="admin")
    assert (await service.current_workflow(session))[0] == version


async def test_sla_breach_is_recorded_once_and_pauses_while_pending(session: AsyncSession) -> None:
    conv, _ = await open_conversation(session, channel="weibo", contact="u", text="卡被盗刷了", now=NOW,
                                      attributes={"crisis": True})  # fmt: skip
    # complaint queue: first response 60 s, always-on calendar, escalate on breach.
    assert await service.check_sla(session, now=NOW + timedelta(seconds=59)) == []
    await service.set_waiting_on_customer(
        session, conversation_id=conv.id, waiting=True, now=NOW + timedelta(seconds=30), actor="a"
    )
    assert await service.check_sla(session, now=NOW + timedelta(seconds=500)) == []
    await service.set_waiting_on_customer(
        session, conversation_id=conv.id, waiting=False, now=NOW + timedelta(seconds=500), actor="a"
    )
    assert await service.check_sla(session, now=NOW + timedelta(seconds=520)) == []
    assert await service.check_sla(session, now=NOW + timedelta(seconds=540)) == [
        (conv.id, "first_response")
    ]
    assert await service.check_sla(session, now=NOW + timedelta(seconds=600)) == []
    task = await session.get(RoutingTask, conv.id)
    assert task.escalated and task.breached == "first_response"


async def test_tasks_nobody_free_can_take_do_not_block_the_rest(session: AsyncSession) -> None:
    await set_presence(session, "online", "agent3")  # deposit/wealth only, no complaint skill
    blocked, _ = await open_conversation(session, channel="weibo", contact="u", text="卡被盗刷",
                                         attributes={"crisis": True}, now=NOW)  # fmt: skip
    wealth, _ = await open_conversation(
        session, channel="weibo", contact="v", text="大额存单", now=NOW
    )
    # One task per page: the crisis (priority 13, needs complaint >= 4 for now) comes first.
    made = await service.assign_waiting(session, now=NOW, limit=1)
    assert made == [(wealth.id, await agent_id(session, "agent3"))]
    assert (await session.get(RoutingTask, blocked.id)).state == TaskState.WAITING


async def test_subject_is_cut_after_masking_so_no_card_head_survives(
    session: AsyncSession,
) -> None:
    # The 60-character cut falls inside the card number: cut first, its first 12 digits
    # were too short for the masker and reached every list that shows the subject.
    text = "您好，我想问一下我的卡片昨天在外地被盗刷了好几笔，请帮我尽快查一下并且冻结，谢谢你们了，卡号是6214830000001126488"
    assert len(text) > 60 > text.index("6214") + 8
    conv, _ = await open_conversation(session, channel="sms", contact="x", text=text, now=NOW)
    assert "62148300" not in conv.subject and len(conv.subject) <= 60
    given, _ = await open_conversation(
        session, channel="sms", contact="x", text="x", subject=text * 3, now=NOW
    )
    assert "6214830000001126488" not in given.subject and len(given.subject) <= 200
