"""Demo service-centre data: staff for every role, teams, skills and a few conversations.

Idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

from sqlalchemy import select

from kefu.agents.models import Agent, AgentSkill, Skill, Team
from kefu.auth.service import create_user
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.conversations.models import Conversation, Message
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.identity.models import ChannelIdentity, Customer
from kefu.vocabulary import Channel, DeliveryState, Direction, IdentityKind, Role, SenderType

DEMO_PASSWORD = "kefu-demo-2026"

SKILLS = [
    ("credit_card", "信用卡"), ("deposit", "存款"), ("loan", "贷款"), ("wealth", "理财"),
    ("complaint", "投诉处理"), ("english", "英语"), ("cantonese", "粤语"),
]  # fmt: skip

# (username, display name, role, team, {skill: proficiency})
STAFF = [
    ("agent1", "李晓雨", Role.AGENT, "信用卡组", {"credit_card": 5, "complaint": 3}),
    ("agent2", "王志强", Role.AGENT, "信用卡组", {"credit_card": 3, "english": 4}),
    ("agent3", "陈思敏", Role.AGENT, "储蓄理财组", {"deposit": 4, "wealth": 5, "cantonese": 5}),
    ("supervisor", "张建华", Role.SUPERVISOR, "信用卡组", {"complaint": 5}),
    ("admin", "系统管理员", Role.ADMIN, None, {}),
    ("analyst", "刘佳怡", Role.ANALYST, None, {}),
    ("teller", "赵一然", Role.TELLER, None, {}),
]

CONVERSATIONS = [
    (Channel.SMS, "我要查3月的账单", "账单查询", 0),
    (Channel.WECHAT, "信用卡被盗刷了，急！", "疑似盗刷", 8),
    (Channel.WEIBO, "排队两个小时还没办完业务，垃圾服务", "网点排队投诉", 6),
    (Channel.WEBCHAT, "大额存单怎么买？", "理财咨询", 1),
]


async def bound_demo_customers(database_url: str, limit: int = 3) -> dict[str, str]:
    """Demo customers already bound to the SMS channel: mobile number → the bank's customer
    number, in binding order."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(ChannelIdentity.value, Customer.bank_customer_no)
                .join(Customer, Customer.id == ChannelIdentity.customer_id)
                .where(ChannelIdentity.kind == IdentityKind.PHONE.value)
                .order_by(ChannelIdentity.id)
                .limit(limit)
            )
            return {phone: customer_no for phone, customer_no in rows.all()}
    finally:
        await engine.dispose()


async def bound_demo_phones(database_url: str, limit: int = 3) -> list[str]:
    """Mobile numbers of demo customers already bound to the SMS channel."""
    return list(await bound_demo_customers(database_url, limit))


async def ensure_demo_data(database_url: str) -> list[tuple[str, str]]:
    engine = make_engine(database_url)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            skills: dict[str, Skill] = {}
            for name, label in SKILLS:
                skill = await session.scalar(select(Skill).where(Skill.name == name))
                if skill is None:
                    skill = Skill(name=name, label=label)
                    session.add(skill)
                skills[name] = skill
            teams: dict[str, Team] = {}
            for *_, team_name, _ in STAFF:
                if team_name and team_name not in teams:
                    team = await session.scalar(select(Team).where(Team.name == team_name))
                    teams[team_name] = team or Team(name=team_name)
                    session.add(teams[team_name])
            await session.flush()
            for username, display, role, team_name, skill_map in STAFF:
                if await session.scalar(select(Agent.id).where(Agent.username == username)):
                    continue
                agent = await create_user(session, username=username, password=DEMO_PASSWORD,
                                          role=role.value, display_name=display, actor="demo")  # fmt: skip
                agent.team_id = teams[team_name].id if team_name else None
                for skill_name, level in skill_map.items():
                    session.add(AgentSkill(agent_id=agent.id, skill_id=skills[skill_name].id,
                                           proficiency=level))  # fmt: skip
            if not await session.scalar(select(Conversation.id).limit(1)):
                await _demo_conversations(session, SyntheticBank(engine))
            from kefu.knowledge.demo import load_demo_knowledge

            await load_demo_knowledge(session)  # 200+ published bank FAQs
            from kefu.routing.demo import ensure_routing_demo

            await ensure_routing_demo(session)  # workflow v1, capacities, scripts, queued demo
            from kefu.crosssell.demo import ensure_demo_assessments, ensure_demo_campaign

            await ensure_demo_assessments(session)  # risk assessments: wealth offers where suitable
            await ensure_demo_campaign(session, SyntheticBank(engine))  # one finished campaign
        return [(u, r.value) for u, _, r, _, _ in STAFF]
    finally:
        await engine.dispose()


async def _demo_conversations(session, bank: SyntheticBank) -> None:  # type: ignore[no-untyped-def]
    for i, (channel, text, subject, priority) in enumerate(CONVERSATIONS):
        profile = await bank.get_customer(f"C{i + 1:010d}")
        customer = await session.scalar(
            select(Customer).where(Customer.bank_customer_no == profile.customer_no)
        )
        if customer is None:
            customer = Customer(bank_customer_no=profile.customer_no, tier=profile.tier,
                                region=profile.city)  # fmt: skip
            customer.identities.append(
                ChannelIdentity(kind=IdentityKind.PHONE.value, value=profile.mobile)
            )
            session.add(customer)
            await session.flush()
        conversation = Conversation(channel=channel.value, customer_id=customer.id,
                                    contact=profile.mobile, subject=subject, priority=priority)  # fmt: skip
        conversation.messages.append(
            Message(
                channel=channel.value,
                direction=Direction.INBOUND.value,
                sender_type=SenderType.CUSTOMER.value,
                body=text,
                delivery_state=DeliveryState.RECEIVED.value,
            )  # fmt: skip
        )
        session.add(conversation)
