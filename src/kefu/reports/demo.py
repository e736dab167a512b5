"""Generated service-centre history: closed conversations with their messages, routing tasks
and events, and self-service turns, spread over past days in office-hour waves. ``kefu
demo`` seeds 30 days of it (so the dashboards have a month to show) and rolls it up;
benchmarks/reports_bench.py uses the same generator at scale."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

import kefu.db.models  # noqa: F401 - every table mapped: bulk inserts sort tables by foreign key
from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.reports.models import SelfServiceTurn
from kefu.reports.rollup import rollup
from kefu.reports.turns import customer_key
from kefu.routing.models import RoutingEvent, RoutingTask
from kefu.workspace.presence import HANDLING_ROLES

CHANNELS = (("wechat", 0.45), ("sms", 0.25), ("webchat", 0.2), ("weibo", 0.1))
QUEUES = (("credit_card", "card.lost"), ("credit_card", "bill.query"),
          ("deposit_wealth", "wealth.product"), ("complaint", "complaint"))  # fmt: skip
OPENERS = ("我要查账单", "信用卡丢了怎么办", "理财产品收益怎么算", "排队太久了，很不满意",
           "你好", "转人工")  # fmt: skip
CLOSERS = ("好的，谢谢", "明白了", "还是没解决，太失望了", "谢谢你，服务很好")
# Share of contacts per local hour (a bank's service day: a morning and an afternoon peak).
HOURLY = [1, 1, 0, 0, 0, 1, 2, 4, 8, 10, 10, 9, 7, 8, 9, 9, 8, 7, 5, 4, 3, 3, 2, 1]
BATCH = 2000
# How a batch of generated rows is written (default: one executemany per table); the
# benchmark passes PostgreSQL's COPY (benchmarks/reports_bench.py).
Writer = Callable[[AsyncSession, type, list[dict[str, Any]]], Awaitable[None]]


async def _next_id(session: AsyncSession, column) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.coalesce(func.max(column), 0))) or 0) + 1


async def generate(
    session: AsyncSession,
    *,
    first_day: date,
    days: int,
    per_day: int,
    zone: ZoneInfo,
    seed: int = 19,
    messages_per: int = 4,
    write: Writer | None = None,
) -> int:
    """Inserts ``days × per_day`` closed conversations from ``first_day`` (local) on, with
    about ``messages_per`` messages each and twice as many self-service turns; returns the
    number of messages written."""
    rng = random.Random(seed)
    agents = list((await session.scalars(
        select(Agent.id).where(Agent.role.in_(HANDLING_ROLES)).order_by(Agent.id)
    )).all())  # fmt: skip
    if not agents:
        return 0
    conv_id = await _next_id(session, Conversation.id)
    msg_id = await _next_id(session, Message.id)
    weights = HOURLY
    conversations, messages, tasks, events, turns = [], [], [], [], []
    written = 0

    async def flush() -> None:
        for model, rows in ((Conversation, conversations), (Message, messages),
                            (RoutingTask, tasks), (RoutingEvent, events),
                            (SelfServiceTurn, turns)):  # fmt: skip
            if rows:
                if write is not None:
                    await write(session, model, rows)
                else:
                    await session.execute(insert(model), rows)
                rows.clear()

    for d in range(days):
        day = first_day + timedelta(days=d)
        midnight = datetime.combine(day, time(), zone)
        for _ in range(per_day):
            hour = rng.choices(range(24), weights)[0]
            opened = (midnight + timedelta(hours=hour, seconds=rng.randrange(3600))).astimezone(UTC)
            channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            queue, intent = rng.choice(QUEUES)
            agent = rng.choice(agents)
            abandoned = rng.random() < 0.06
            first = None if abandoned else opened + timedelta(seconds=rng.randint(10, 300))
            closed = opened + timedelta(seconds=rng.randint(120, 1500) + (0 if abandoned else 300))
            conversations.append({
                "id": conv_id, "channel": channel, "contact": f"1390000{rng.randrange(10_000):04d}",
                "status": "closed", "priority": 0, "subject": intent, "intent": intent,
                "assigned_agent_id": None if abandoned else agent, "created_at": opened,
                "updated_at": closed, "closed_at": closed,
            })  # fmt: skip
            tasks.append({
                "conversation_id": conv_id, "state": "completed", "channel": channel,
                "workflow_version": 1, "rule": "demo", "queue": queue, "priority": 0,
                "attributes": {}, "enqueued_at": opened, "agent_id": None if abandoned else agent,
                "rejected": [], "first_response_at": first, "sla_paused_seconds": 0,
                "breached": "first_response" if first and (first - opened).seconds > 180 else None,
                "escalated": False, "tags": [],
            })  # fmt: skip
            if not abandoned:
                events.append({"conversation_id": conv_id, "at": opened + timedelta(seconds=5),
                               "kind": "accepted", "agent_id": agent, "actor": "demo", "detail": {}})  # fmt: skip
                if rng.random() < 0.08:
                    events.append({"conversation_id": conv_id, "at": opened + timedelta(seconds=60),
                                   "kind": "transferred", "agent_id": agent, "actor": "demo",
                                   "detail": {}})  # fmt: skip
            n = max(1, messages_per + rng.randint(-1, 1))
            for i in range(n):
                at = opened + (closed - opened) * i / n
                inbound = i % 2 == 0 or abandoned
                body = rng.choice(OPENERS) if i == 0 else rng.choice(CLOSERS)
                messages.append({
                    "id": msg_id, "conversation_id": conv_id, "channel": channel,
                    "direction": "in" if inbound else "out",
                    "sender_type": "customer" if inbound else "agent",
                    "sender_agent_id": None if inbound else agent, "body": body if inbound else "好的，请稍等",
                    "delivery_state": "received" if inbound else "delivered", "created_at": at,
                })  # fmt: skip
                msg_id += 1
            written += n
            # Two self-service turns before the conversation, one customer session: it
            # began at the earlier; the later one, unanswered, handed the customer over.
            pair = [(opened - timedelta(seconds=rng.randint(1, 600)), rng.random() < 0.7)
                    for _ in range(2)]  # fmt: skip
            began = min(at for at, _ in pair)
            last = max(range(2), key=lambda k: (pair[k][0], k))
            customer = customer_key(channel, conversations[-1]["contact"])
            for k, (at, answered) in enumerate(pair):
                turns.append({"at": at, "channel": channel, "intent": intent,
                              "answered": answered, "customer": customer, "session_at": began,
                              "handed_off": k == last and not answered})  # fmt: skip
            conv_id += 1
            if len(messages) >= BATCH:
                await flush()
    await flush()
    if session.bind.dialect.name == "postgresql":  # explicit ids: move the sequences on
        for table in ("conversations", "messages"):
            await session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            ))  # fmt: skip
    return written


async def ensure_reports_demo(
    database_url: str, *, timezone: str = "Asia/Shanghai", per_day: int = 20
) -> str:
    """A month of history before today unless there is some already, then the rollup of
    everything (the dashboards read only the rollup)."""
    zone = ZoneInfo(timezone)
    engine = make_engine(database_url)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            today = datetime.now(zone).date()
            since = datetime.combine(today - timedelta(days=1), time(), zone)
            history = await session.scalar(
                select(Conversation.id).where(Conversation.created_at < since).limit(1)
            )
            if history is None:
                await generate(session, first_day=today - timedelta(days=30), days=30,
                               per_day=per_day, zone=zone)  # fmt: skip
            result = await rollup(session, now=datetime.now(UTC), zone=zone)
        return f"reports: {result.hours} hours rolled up ({result.rows} KPI rows)"
    finally:
        await engine.dispose()
