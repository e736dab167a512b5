from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.routing.models import RoutingTask, TaskState
from tests.conftest import session_on

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai: service hours


@pytest.fixture
async def session(seeded_url: str) -> AsyncIterator[AsyncSession]:
    async with session_on(seeded_url) as s:
        # The demo queues its four conversations; these tests start from empty queues.
        await s.execute(update(RoutingTask).values(state=TaskState.COMPLETED))
        yield s


async def agent_id(session: AsyncSession, username: str) -> int:
    return await session.scalar(select(Agent.id).where(Agent.username == username))  # type: ignore[return-value]


async def set_presence(session: AsyncSession, presence: str, *usernames: str) -> None:
    await session.execute(
        update(Agent).where(Agent.username.in_(usernames)).values(presence=presence)
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


Factory = Callable[..., Any]


async def set_capacity(session: AsyncSession, agent: int, capacity: dict[str, int]) -> None:
    from kefu.routing.models import RoutingWorker

    row = await session.get(RoutingWorker, agent)
    if row is None:
        session.add(RoutingWorker(agent_id=agent, capacity=capacity))
    else:
        row.capacity = capacity
    await session.flush()
