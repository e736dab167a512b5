"""The daily rollup: a long period answered from whole days (kpi_daily) plus the partial days
at its ends (kpi_hourly) gives exactly what the hours alone give, by day, week, month,
channel and agent; a late change to an old day reaches its daily row on the next rollup."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation
from kefu.reports import daily, kpis
from kefu.reports.demo import generate
from kefu.reports.models import KpiDaily
from kefu.reports.rollup import rollup
from kefu.reports.settings import ReportsSettings

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
CFG = ReportsSettings()
FIRST = date(2026, 8, 1)
MEASURES = ["conversations", "messages_in", "aht", "sla", "saved_cost"]


async def _both(session, query, monkeypatch) -> tuple[kpis.Result, kpis.Result]:  # type: ignore[no-untyped-def]
    fast = await kpis.run(session, query, settings=CFG, zone=ZONE)
    with monkeypatch.context() as m:
        m.setattr(daily, "LONG", timedelta(days=10_000))  # the hours alone
        slow = await kpis.run(session, query, settings=CFG, zone=ZONE)
    return fast, slow


async def test_long_periods_read_days_and_agree_with_hours(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    session.add_all(Agent(username=f"d{n}", display_name=f"坐席{n}", role="agent",
                          password_hash="x") for n in range(3))  # fmt: skip
    await session.flush()
    await generate(session, first_day=FIRST, days=40, per_day=2, zone=ZONE)
    await rollup(session, zone=ZONE)
    await session.commit()
    days = await session.scalar(select(func.count(func.distinct(KpiDaily.day))))
    assert days >= 39

    # 5:30 on the first day to 18:00 on the 36th: two partial days from the hours.
    start = datetime.combine(FIRST, time(5, 30), ZONE)
    end = datetime.combine(FIRST + timedelta(days=35), time(18), ZONE)
    hourly, whole = daily.split(start, end, ZONE)
    assert whole == (
        (FIRST + timedelta(days=1)).isoformat(),
        (FIRST + timedelta(days=35)).isoformat(),
    )
    assert len(hourly) == 2
    for dims in ([], ["day"], ["week"], ["month", "channel"], ["agent"], ["queue", "intent"]):
        fast, slow = await _both(session, kpis.Query(start, end, MEASURES, dims), monkeypatch)
        assert fast.rows == slow.rows, dims
        assert sum(r["conversations"] for r in fast.rows) > 50
    # The builder's 30 days by day × agent (whole local days) is read from the days too.
    month = kpis.Query(datetime.combine(FIRST + timedelta(days=3), time(), ZONE),
                       datetime.combine(FIRST + timedelta(days=33), time(), ZONE),
                       MEASURES, ["day", "agent"])  # fmt: skip
    assert daily.split(month.start, month.end, ZONE)[0] == []  # no hours at all
    fast, slow = await _both(session, month, monkeypatch)
    assert fast.rows == slow.rows and len(fast.rows) >= 30
    total = (await _both(session, kpis.Query(start, end, ["conversations"]), monkeypatch))[0]
    assert total.rows[0]["conversations"] > 50

    # A late change on day 10: the next rollup rebuilds that day's row.
    old = await session.scalar(
        select(Conversation).where(Conversation.created_at >= start + timedelta(days=10))
        .order_by(Conversation.created_at).limit(1)
    )  # fmt: skip
    session.add(Conversation(channel="sms", contact="13900009999", status="open",
                             created_at=old.created_at))  # fmt: skip
    await session.commit()
    await rollup(session, zone=ZONE)
    await session.commit()
    after = await kpis.run(
        session, kpis.Query(start, end, ["conversations"]), settings=CFG, zone=ZONE
    )
    assert after.rows[0]["conversations"] == total.rows[0]["conversations"] + 1
