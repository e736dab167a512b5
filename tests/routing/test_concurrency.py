"""Concurrent assigners never double-assign and never overfill an agent.

PostgreSQL: four assigners on separate connections (as four app processes would be) race over
the same waiting tasks with row locks and SKIP LOCKED. SQLite: the same invariants with
assigners serialised by the database's write lock.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import OperationalError

from kefu.agents.models import Agent, AgentSkill, Skill
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.migrate import upgrade
from kefu.routing import service
from kefu.routing.models import RoutingEvent, RoutingTask, RoutingWorker, TaskState
from tests.conftest import _reset_postgres

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
WORKFLOW = {
    "queues": [{"name": "general", "expression": "skills.general >= 1"}],
    "default": {"targets": [{"queue": "general"}]},
    "capacity": {"webchat": 5, "sms": 3},
}


async def prepare(url: str, *, agents: int, tasks: int) -> dict[int, dict[str, int]]:
    engine = make_engine(url)
    capacities: dict[int, dict[str, int]] = {}
    try:
        async with make_sessionmaker(engine)() as session:
            skill = Skill(name="general", label="general")
            session.add(skill)
            await session.flush()
            for i in range(agents):
                agent = Agent(
                    username=f"w{i}",
                    display_name=f"w{i}",
                    role="agent",
                    password_hash="x",
                    presence="online",
                )
                session.add(agent)
                await session.flush()
                session.add(AgentSkill(agent_id=agent.id, skill_id=skill.id, proficiency=1 + i % 5))
                capacities[agent.id] = {"webchat": 1 + i % 5, "sms": i % 3}
                session.add(RoutingWorker(agent_id=agent.id, capacity=capacities[agent.id]))
            await service.save_workflow(session, document=WORKFLOW, comment="load", actor="test")
            conversation_ids = []
            for i in range(tasks):
                conversation = Conversation(
                    channel="webchat" if i % 2 else "sms",
                    contact=f"c{i}",
                    created_at=NOW,
                    updated_at=NOW,
                )
                session.add(conversation)
                conversation_ids.append(conversation)
            await session.flush()
            await session.execute(
                insert(RoutingTask),
                [
                    {"conversation_id": c.id, "state": TaskState.WAITING, "channel": c.channel, "workflow_version": 1,
                     "rule": "default", "queue": "general", "priority": i % 7, "attributes": {}, "enqueued_at": NOW,
                     "rejected": [], "sla_paused_seconds": 0, "escalated": False, "tags": []}
                    for i, c in enumerate(conversation_ids)
                ],
            )  # fmt: skip
            await session.commit()
    finally:
        await engine.dispose()
    return capacities


async def assigner(url: str) -> int:
    """Runs assignment rounds until three in a row place nothing (as the app's ticker would)."""
    engine = make_engine(url)
    made = idle = calls = 0
    try:
        factory = make_sessionmaker(engine)
        while idle < 3 and calls < 80:
            calls += 1
            try:
                async with factory() as session, session.begin():
                    n = len(await service.assign_waiting(session, now=NOW, limit=25))
            except OperationalError:  # SQLite: "database is locked" under contention; retry
                await asyncio.sleep(0.01)
                continue
            made += n
            idle = idle + 1 if n == 0 else 0
    finally:
        await engine.dispose()
    return made


async def expected_round(url: str, capacities: dict[int, dict[str, int]]) -> int:
    """With every agent free, a round can place min(capacity, waiting) per channel."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            waiting = dict((await session.execute(
                select(RoutingTask.channel, func.count()).where(RoutingTask.state == TaskState.WAITING)
                .group_by(RoutingTask.channel)
            )).all())  # fmt: skip
    finally:
        await engine.dispose()
    return sum(
        min(sum(c.get(ch, 0) for c in capacities.values()), waiting.get(ch, 0))
        for ch in ("webchat", "sms")
    )


async def release_all(url: str) -> None:
    """Between rounds every reservation completes, so each round races for full capacity."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(RoutingTask)
                .where(RoutingTask.state == TaskState.RESERVED)
                .values(state=TaskState.COMPLETED)
            )
    finally:
        await engine.dispose()


async def check(url: str, capacities: dict[int, dict[str, int]]) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            offered = (await session.execute(
                select(RoutingEvent.conversation_id, func.count()).where(RoutingEvent.kind == "offered")
                .group_by(RoutingEvent.conversation_id)
            )).all()  # fmt: skip
            double = [cid for cid, n in offered if n > 1]
            loads = (await session.execute(
                select(RoutingTask.agent_id, RoutingTask.channel, func.count())
                .where(RoutingTask.state == TaskState.RESERVED).group_by(RoutingTask.agent_id, RoutingTask.channel)
            )).all()  # fmt: skip
            over = [(a, ch, n) for a, ch, n in loads if n > capacities[a].get(ch, 0)]
            assert double == [], f"conversations offered twice: {double[:10]}"
            assert over == [], f"agents over capacity: {over[:10]}"
            return len(offered), sum(n for _, _, n in loads)
    finally:
        await engine.dispose()


async def scenario(url: str, *, workers: int, agents: int, tasks: int, rounds: int) -> int:
    capacities = await prepare(url, agents=agents, tasks=tasks)
    total = 0
    for _ in range(rounds):
        expected = await expected_round(url, capacities)
        made = sum(await asyncio.gather(*(assigner(url) for _ in range(workers))))
        made += await assigner(url)  # a last sweep: anything skipped because rows were locked
        assert made == expected  # nothing left unplaced that could be placed
        total += made
        await check(url, capacities)
        await release_all(url)
    offered, _ = await check(url, capacities)
    assert offered == total  # every reservation reported is exactly one recorded offer
    return total


@pytest.mark.skipif(
    not os.environ.get("KEFU_TEST_DATABASE_URL"),
    reason="needs PostgreSQL (KEFU_TEST_DATABASE_URL); CI sets it",
)
def test_concurrent_assigners_on_postgresql() -> None:
    url = os.environ["KEFU_TEST_DATABASE_URL"]
    _reset_postgres(url)
    upgrade(url)
    total = asyncio.run(scenario(url, workers=4, agents=100, tasks=3000, rounds=8))
    assert total >= 1500  # thousands of assignments actually raced


def test_concurrent_assigners_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'race.db'}"
    upgrade(url)
    total = asyncio.run(scenario(url, workers=3, agents=30, tasks=600, rounds=4))
    assert total >= 150
