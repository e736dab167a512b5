"""Assignments per second on PostgreSQL with four concurrent assigner processes, and a check
that no conversation was offered twice and no agent went over capacity.

Run: KEFU_BENCH_DATABASE_URL=postgresql://kefu:kefu@127.0.0.1:5432/kefu_bench \\
     .venv/bin/python benchmarks/routing_pg_throughput.py [tasks] [agents] [processes]
The database is wiped (schema public dropped) first: give it a scratch database.

Each process runs ``kefu.routing.service.assign_waiting`` (the code the app's ticker runs) in
its own transactions until no waiting task can be placed. Agents have capacities 1–5 per
channel, summing to more than the tasks, so every task can be placed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
WORKERS = 4
WORKFLOW = {
    "queues": [{"name": "general", "expression": "skills.general >= 1"}],
    "default": {"targets": [{"queue": "general"}]},
    "capacity": {"webchat": 5, "sms": 5},
}


async def prepare(url: str, tasks: int, agents: int) -> None:
    import asyncpg

    from kefu.agents.models import Agent, AgentSkill, Skill
    from kefu.conversations.models import Conversation
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.db.migrate import upgrade
    from kefu.routing import service
    from kefu.routing.models import RoutingTask, RoutingWorker, TaskState

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await conn.close()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
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
            session.add(
                RoutingWorker(
                    agent_id=agent.id, capacity={"webchat": 1 + i % 5, "sms": 1 + (i * 7) % 5}
                )
            )
        await service.save_workflow(session, document=WORKFLOW, comment="bench", actor="bench")
        await session.flush()
        ids = []
        for chunk in range(0, tasks, 1000):
            batch = [Conversation(channel="webchat" if i % 2 else "sms", contact=f"c{i}", created_at=NOW, updated_at=NOW)
                     for i in range(chunk, min(tasks, chunk + 1000))]  # fmt: skip
            session.add_all(batch)
            await session.flush()
            ids += [(c.id, c.channel) for c in batch]
        await session.execute(insert(RoutingTask), [
            {"conversation_id": cid, "state": TaskState.WAITING, "channel": ch, "workflow_version": 1, "rule": "default",
             "queue": "general", "priority": cid % 7, "attributes": {}, "enqueued_at": NOW, "rejected": [],
             "sla_paused_seconds": 0, "escalated": False, "tags": []} for cid, ch in ids])  # fmt: skip
        await session.commit()
    await engine.dispose()


def assigner(url: str, results: multiprocessing.Queue, start: Any) -> None:  # type: ignore[type-arg]
    async def go() -> int:
        from kefu.db.engine import make_engine, make_sessionmaker
        from kefu.routing import service

        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        async with factory() as session:  # connect and warm up before the clock starts
            await service.router_for(session)
        start.wait()  # all processes begin together
        made, idle = 0, 0
        # An empty round may only mean the others hold the rows: stop after 20 in a row.
        while idle < 20:
            async with factory() as session, session.begin():
                n = len(await service.assign_waiting(session, now=NOW, limit=50))
            made += n
            idle = idle + 1 if n == 0 else 0
            if n == 0:
                await asyncio.sleep(0.01)
        await engine.dispose()
        return made

    results.put(asyncio.run(go()))


async def check(url: str) -> tuple[int, int, int, int]:
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.routing.models import RoutingEvent, RoutingTask, RoutingWorker, TaskState

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        offered = (await session.execute(select(RoutingEvent.conversation_id, func.count())
                                         .where(RoutingEvent.kind == "offered").group_by(RoutingEvent.conversation_id))).all()  # fmt: skip
        double = sum(1 for _, n in offered if n > 1)
        caps = {w.agent_id: w.capacity for w in await session.scalars(select(RoutingWorker))}
        loads = (await session.execute(select(RoutingTask.agent_id, RoutingTask.channel, func.count())
                                       .where(RoutingTask.state == TaskState.RESERVED)
                                       .group_by(RoutingTask.agent_id, RoutingTask.channel))).all()  # fmt: skip
        over = sum(1 for a, ch, n in loads if n > caps[a].get(ch, 0))
        waiting = await session.scalar(
            select(func.count())
            .select_from(RoutingTask)
            .where(RoutingTask.state == TaskState.WAITING)
        )
    await engine.dispose()
    return len(offered), double, over, waiting or 0


def main() -> None:
    url = os.environ.get("KEFU_BENCH_DATABASE_URL")
    if not url:
        sys.exit("set KEFU_BENCH_DATABASE_URL to a scratch PostgreSQL database")
    from kefu.config import normalise_database_url

    url = normalise_database_url(url)
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    agents = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else WORKERS
    asyncio.run(prepare(url, tasks, agents))
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    go = ctx.Barrier(workers + 1)
    processes = [ctx.Process(target=assigner, args=(url, results, go)) for _ in range(workers)]
    for p in processes:
        p.start()
    go.wait()
    start = time.perf_counter()
    made = [results.get() for _ in processes]
    for p in processes:
        p.join()
    elapsed = time.perf_counter() - start
    offered, double, over, waiting = asyncio.run(check(url))
    print(f"{workers} processes, {agents} agents, {tasks} waiting tasks: {sum(made)} assignments in {elapsed:.1f} s "
          f"= {sum(made) / elapsed:.0f} assignments/s (per process {made})")  # fmt: skip
    print(f"offers recorded {offered}, conversations offered twice: {double}, agent-channels over capacity: {over}, "
          f"left waiting: {waiting}")  # fmt: skip


if __name__ == "__main__":
    main()
