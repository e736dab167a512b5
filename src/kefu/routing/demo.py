"""Demo routing data: the default workflow, per-agent capacities, scripts (话术), and the demo
conversations queued. Idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation
from kefu.identity.models import Customer
from kefu.routing import service
from kefu.routing.models import RoutingTask, RoutingWorker
from kefu.vocabulary import ConversationStatus
from kefu.workspace.models import ReplyScript

CAPACITIES = {
    "agent1": {"sms": 5, "wechat": 5, "weibo": 20, "webchat": 5},
    "agent2": {"sms": 5, "wechat": 5, "weibo": 20, "webchat": 5},
    "agent3": {"sms": 3, "wechat": 3, "weibo": 10, "webchat": 3},
    "supervisor": {"sms": 2, "wechat": 2, "weibo": 5, "webchat": 2},
}

SCRIPTS = [
    ("hello", "问候", "{title}您好，我是客服{agent}，很高兴为您服务。", "通用"),
    ("bill", "账单说明", "{title}您好，您尾号{card_tail}的信用卡本期账单已发送，可回复“账单”查询明细。", "信用卡"),
    ("fraud", "盗刷处理", "{title}您好，我们已为您尾号{card_tail}的{card_kind}加急处理，请勿泄露验证码，稍后专员联系您。", "投诉"),
    ("queue", "网点排队致歉", "{title}您好，非常抱歉让您久等，我们已将您的意见转交网点负责人，感谢您的监督。", "投诉"),
    ("bye", "结束语", "感谢您的咨询，祝您生活愉快！如有问题欢迎随时联系我们。", "通用"),
]  # fmt: skip

# Understanding results the language layer would have attached to the demo conversations.
ATTRIBUTES = {
    "疑似盗刷": {"sentiment": -0.8, "keywords": ["盗刷"], "crisis": True},
    "网点排队投诉": {"sentiment": -0.9, "keywords": ["排队"]},
}


async def ensure_routing_demo(session: AsyncSession) -> None:
    await service.current_workflow(session)
    agents = {a.username: a for a in await session.scalars(select(Agent))}
    for username, capacity in CAPACITIES.items():
        agent = agents.get(username)
        if agent is not None and await session.get(RoutingWorker, agent.id) is None:
            session.add(RoutingWorker(agent_id=agent.id, capacity=capacity))
    for shortcut, title, body, category in SCRIPTS:
        if not await session.scalar(select(ReplyScript.id).where(ReplyScript.shortcut == shortcut)):
            session.add(ReplyScript(shortcut=shortcut, title=title, body=body, category=category))
    await session.flush()
    unrouted = (
        await session.scalars(
            select(Conversation)
            .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
            .where(
                RoutingTask.conversation_id.is_(None),
                Conversation.status != ConversationStatus.CLOSED.value,
            )
            .order_by(Conversation.id)
        )
    ).all()
    now = datetime.now(UTC)
    for conversation in unrouted:
        await session.refresh(conversation, ["messages"])
        text = conversation.messages[0].body if conversation.messages else conversation.subject
        customer = (
            await session.get(Customer, conversation.customer_id)
            if conversation.customer_id
            else None
        )
        attributes = service.conversation_attributes(
            conversation, customer, text, dict(ATTRIBUTES.get(conversation.subject, {}))
        )
        await service.enqueue(
            session, conversation=conversation, attributes=attributes, now=now, actor="demo"
        )
