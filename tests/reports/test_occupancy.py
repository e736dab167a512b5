"""Occupancy from the agent-minute samples (kefu.reports.kpis.occupancy): the right sums per
agent and period, and — the reason it names the agents — a read of each agent's key range,
not of every sample ever taken (a year of samples made /reports/me take seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.reports import kpis
from kefu.reports.models import AgentMinute
from kefu.reports.settings import ReportsSettings

pytestmark = pytest.mark.db
DAY = datetime(2026, 3, 2, 1, tzinfo=UTC)


async def _agents(db: AsyncSession) -> tuple[int, int, int]:
    agents = [Agent(username=f"o{n}", display_name=f"坐席{n}", role="agent", password_hash="x")
              for n in range(3)]  # fmt: skip
    db.add_all(agents)
    await db.flush()
    a, b, idle = (agent.id for agent in agents)
    minute = timedelta(minutes=1)
    db.add_all([
        # a: 10 minutes, 4 engaged; b: 5 minutes, all engaged; both also the day before.
        *[AgentMinute(agent_id=a, minute=DAY + k * minute, engaged=k < 4) for k in range(10)],
        *[AgentMinute(agent_id=b, minute=DAY + k * minute, engaged=True) for k in range(5)],
        *[AgentMinute(agent_id=x, minute=DAY - timedelta(days=1), engaged=True) for x in (a, b)],
        # Samples of an agent no longer in the agents table are not counted.
        AgentMinute(agent_id=max(a, b, idle) + 100, minute=DAY, engaged=True),
    ])  # fmt: skip
    await db.flush()
    return a, b, idle


async def test_occupancy_per_agent_and_for_one(session: AsyncSession) -> None:
    a, b, idle = await _agents(session)
    end = DAY + timedelta(hours=1)
    assert await kpis.occupancy(session, DAY, end) == {a: (4, 10), b: (5, 5)}
    assert await kpis.occupancy(session, DAY - timedelta(days=1), end) == {a: (5, 11), b: (6, 6)}
    assert await kpis.occupancy(session, DAY, end, b) == {b: (5, 5)}
    assert await kpis.occupancy(session, DAY, end, idle) == {}
    rows = await kpis.agent_rows(session, DAY, end, settings=ReportsSettings(),
                                 zone=ZoneInfo("Asia/Shanghai"), agent_id=a)  # fmt: skip
    assert rows[0]["agent"] == a and rows[0]["occupancy"] == 40


async def test_occupancy_reads_each_agents_key_range(session: AsyncSession) -> None:
    if session.bind.dialect.name != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL's depends on table statistics)")
    await _agents(session)
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if "kpi_agent_minutes" in statement:
            seen.append((statement, params))

    sync_engine = session.bind.sync_engine
    event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        await kpis.occupancy(session, DAY, DAY + timedelta(hours=1))
    finally:
        event.remove(sync_engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    statement, params = seen[0]
    conn = await session.connection()
    plan = " | ".join(
        row[3]
        for row in (
            await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)  # type: ignore[arg-type]
        ).all()
    )
    # The key's range per agent, not a scan of every sample.
    assert "SEARCH kpi_agent_minutes" in plan and "(agent_id=? AND minute>? AND minute<?)" in plan
    assert "SCAN kpi_agent_minutes" not in plan
    assert await session.scalar(text("SELECT count(*) FROM kpi_agent_minutes")) == 18
