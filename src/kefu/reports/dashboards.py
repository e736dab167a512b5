"""What the dashboards show, read from the rollup (and, for the live page, the routing
tables' current rows — a handful, not history): the head of service's day against the same
day last week and 30 days of trend, the supervisor's queues and agents now, an agent's own."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.reports import kpis
from kefu.reports.settings import ReportsSettings
from kefu.routing.models import RoutingTask, TaskState
from kefu.workspace.presence import HANDLING_ROLES

TILES = ("conversations", "first_response", "aht", "sla", "abandonment", "containment",
         "session_containment", "saved_cost", "recontact", "transfers", "escalations",
         "sentiment_start", "sentiment_end")  # fmt: skip
TREND = ("conversations", "sla", "aht", "containment", "session_containment")


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone)
    return start, start + timedelta(days=1)


async def overview(
    session: AsyncSession, *, today: date, settings: ReportsSettings, zone: ZoneInfo
) -> dict[str, object]:
    """Today against the same weekday last week (tiles, hourly volume, by channel) and the
    last 30 days by day."""
    now_s, now_e = day_bounds(today, zone)
    then_s, then_e = day_bounds(today - timedelta(days=7), zone)
    tiles_now = await kpis.totals(session, now_s, now_e, settings=settings, zone=zone)
    tiles_then = await kpis.totals(session, then_s, then_e, settings=settings, zone=zone)

    async def hourly(start: datetime, end: datetime) -> dict[str, float | None]:
        result = await kpis.run(
            session,
            kpis.Query(start, end, ["conversations"], ["hour"]),
            settings=settings,
            zone=zone,
        )
        return {str(r["hour"]): r["conversations"] for r in result.rows}  # type: ignore[misc]

    by_channel = await kpis.run(
        session, kpis.Query(now_s, now_e, ["conversations", "messages_in", "sla"], ["channel"]),
        settings=settings, zone=zone,
    )  # fmt: skip
    trend_start = datetime.combine(today - timedelta(days=29), time(), zone)
    trend = await kpis.run(
        session, kpis.Query(trend_start, now_e, list(TREND), ["day", "channel"]),
        settings=settings, zone=zone,
    )  # fmt: skip
    trend_total = await kpis.run(
        session, kpis.Query(trend_start, now_e, list(TREND), ["day"]), settings=settings, zone=zone
    )
    days = [(today - timedelta(days=29 - i)).isoformat() for i in range(30)]
    by_day: dict[str, dict[str, object]] = {d: {} for d in days}
    for row in trend.rows:
        by_day.setdefault(str(row["day"]), {})[str(row["channel"])] = row["conversations"]
    return {
        "today": today.isoformat(),
        "last_week": (today - timedelta(days=7)).isoformat(),
        "tiles": {name: {"now": tiles_now[name], "then": tiles_then[name]} for name in TILES},
        "hourly": {"now": await hourly(now_s, now_e), "then": await hourly(then_s, then_e)},
        "by_channel": by_channel.rows,
        "by_day": by_day,  # day -> channel -> conversations (the 30-day chart)
        "trend": {str(r["day"]): {m: r[m] for m in TREND} for r in trend_total.rows},
    }


async def live(
    session: AsyncSession, *, today: date, now: datetime, settings: ReportsSettings, zone: ZoneInfo
) -> dict[str, object]:
    """Queues and agents now (routing's current rows) with today's per-agent KPIs."""
    waiting = await session.execute(
        select(RoutingTask.queue, func.count(), func.min(RoutingTask.enqueued_at))
        .where(RoutingTask.state == TaskState.WAITING)
        .group_by(RoutingTask.queue)
    )
    active = await session.execute(
        select(RoutingTask.queue, func.count())
        .where(RoutingTask.state.in_(TaskState.ACTIVE))
        .group_by(RoutingTask.queue)
    )
    queues: dict[str, dict[str, object]] = {}
    for queue, n, oldest in waiting:
        queues[queue] = {
            "waiting": n,
            "longest_wait": int((now - oldest).total_seconds()),
            "active": 0,
        }
    for queue, n in active:
        queues.setdefault(queue, {"waiting": 0, "longest_wait": 0})["active"] = n
    load = dict(
        (
            await session.execute(
                select(RoutingTask.agent_id, func.count())
                .where(RoutingTask.state.in_(TaskState.ACTIVE), RoutingTask.agent_id.is_not(None))
                .group_by(RoutingTask.agent_id)
            )
        ).all()
    )
    start, end = day_bounds(today, zone)
    kpi = {
        r["agent"]: r
        for r in await kpis.agent_rows(session, start, end, settings=settings, zone=zone)
    }
    agents = []
    for agent in (
        await session.scalars(
            select(Agent)
            .where(Agent.role.in_(HANDLING_ROLES), Agent.is_active.is_(True))
            .order_by(Agent.id)
        )
    ).all():
        row = kpi.get(agent.id, {})
        agents.append({
            "id": agent.id, "name": agent.display_name, "presence": agent.presence,
            "in_hand": load.get(agent.id, 0), "handled": row.get("handled") or 0,
            "aht": row.get("aht"), "occupancy": row.get("occupancy"),
            "csat": row.get("csat"), "qa": row.get("qa"),
        })  # fmt: skip
    return {"queues": dict(sorted(queues.items())), "agents": agents}


async def own(
    session: AsyncSession, agent_id: int, *, today: date, settings: ReportsSettings, zone: ZoneInfo
) -> dict[str, object]:
    """One agent's KPIs today and over 30 days, and their daily handled count."""
    start, end = day_bounds(today, zone)
    month_start = datetime.combine(today - timedelta(days=29), time(), zone)
    today_row = (await kpis.agent_rows(session, start, end, settings=settings, zone=zone,
                                       agent_id=agent_id))[0]  # fmt: skip
    month_row = (await kpis.agent_rows(session, month_start, end, settings=settings, zone=zone,
                                       agent_id=agent_id))[0]  # fmt: skip
    daily = await kpis.run(
        session, kpis.Query(month_start, end, ["handled", "aht"], ["day"], {"agent": agent_id}),
        settings=settings, zone=zone,
    )  # fmt: skip
    return {"today": today_row, "month": month_row,
            "daily": {str(r["day"]): r["handled"] for r in daily.rows}}  # fmt: skip
