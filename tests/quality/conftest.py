"""A migrated database with two agents and a helper to write conversations into it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.vocabulary import ConversationStatus


@pytest.fixture
def run() -> Iterator[Callable]:
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


@pytest.fixture
def sessions(db_url: str, run: Callable):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    maker = make_sessionmaker(engine)

    async def agents() -> None:
        async with maker() as db:
            db.add_all([
                Agent(username="wang", display_name="王坐席", role="agent", password_hash="x"),
                Agent(username="li", display_name="李坐席", role="agent", password_hash="x"),
            ])  # fmt: skip
            await db.commit()

    run(agents())
    yield maker
    run(engine.dispose())


async def conversation(
    db: AsyncSession,
    turns: list[tuple[str, str]],
    *,
    channel: str = "sms",
    contact: str = "13800138000",
    agent_id: int | None = 1,
    start: datetime | None = None,
    minutes_apart: float = 1,
    closed: bool = False,
) -> Conversation:
    """A conversation of (sender, text) turns, a message every ``minutes_apart``."""
    at = start or utcnow() - timedelta(hours=1)
    conv = Conversation(channel=channel, contact=contact, assigned_agent_id=agent_id,
                        status=ConversationStatus.CLOSED.value if closed else "open",
                        closed_at=at + timedelta(minutes=minutes_apart * len(turns)) if closed
                        else None)  # fmt: skip
    db.add(conv)
    await db.flush()
    for n, (sender, text) in enumerate(turns):
        db.add(Message(conversation_id=conv.id, channel=channel,
                       direction="in" if sender == "customer" else "out", sender_type=sender,
                       sender_agent_id=agent_id if sender == "agent" else None, body=text,
                       created_at=at + timedelta(minutes=minutes_apart * n)))  # fmt: skip
    await db.flush()
    return conv
