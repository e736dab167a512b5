"""The KPIs, defined once (docs/reports.md gives each formula): every measure is a ratio or a
sum of ``kpi_hourly`` columns, so any period and grouping is answered from the rollup —
sum the columns over the rows, then divide — never by scanning conversations.

Dimensions: channel, queue, intent, agent, and time (hour of day, day, week, month) in the
bank's time zone; filters: equality on channel, queue, intent, agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.db import mysql
from kefu.quality import kpis as quality
from kefu.reports import daily
from kefu.reports.models import COUNTS, SUMS, AgentMinute, KpiDaily, KpiHourly
from kefu.reports.settings import ReportsSettings
from kefu.web.i18n import N_

Sums = dict[str, float]


def _ratio(
    num: str, den: str, scale: float = 1.0
) -> Callable[[Sums, ReportsSettings], float | None]:
    def value(s: Sums, _: ReportsSettings) -> float | None:
        return round(s[num] / s[den] * scale, 4) if s[den] else None

    return value


def _count(col: str) -> Callable[[Sums, ReportsSettings], float | None]:
    return lambda s, _: s[col]


def _saved_cost(s: Sums, _: ReportsSettings) -> float | None:
    # Needs each channel's message cost: ``run`` sums it per channel into "_saved_cost".
    return round(s["_saved_cost"], 2)


@dataclass(frozen=True)
class Measure:
    label: str
    unit: str  # count | percent | seconds | yuan | score
    value: Callable[[Sums, ReportsSettings], float | None]


MEASURES: dict[str, Measure] = {
    "conversations": Measure(N_("Conversations"), "count", _count("conversations")),
    "messages_in": Measure(N_("Messages in"), "count", _count("messages_in")),
    "messages_out": Measure(N_("Messages out"), "count", _count("messages_out")),
    "selfservice_turns": Measure(N_("Self-service messages"), "count", _count("selfservice_turns")),
    "containment": Measure(
        N_("Self-service containment"),
        "percent",
        _ratio("selfservice_answered", "selfservice_turns", 100),
    ),  # fmt: skip
    "session_containment": Measure(
        N_("Self-service containment per session"),
        "percent",
        _ratio("selfservice_contained", "selfservice_sessions", 100),
    ),  # fmt: skip
    "saved_cost": Measure(N_("Cost saved by self-service"), "yuan", _saved_cost),
    "first_response": Measure(
        N_("Average first response"), "seconds", _ratio("first_response_seconds", "first_responses")
    ),
    "aht": Measure(N_("Average handle time"), "seconds", _ratio("handle_seconds", "handled")),
    "handled": Measure(N_("Conversations handled"), "count", _count("handled")),
    "sla": Measure(N_("SLA met"), "percent", _ratio("sla_met", "sla_due", 100)),
    "abandonment": Measure(N_("Abandonment"), "percent", _ratio("abandoned", "conversations", 100)),
    "transfers": Measure(N_("Transfers"), "count", _count("transfers")),
    "escalations": Measure(N_("Escalations"), "count", _count("escalations")),
    "recontact": Measure(
        N_("Re-contact within 7 days"), "percent", _ratio("recontacts", "conversations", 100)
    ),
    "sentiment_start": Measure(
        N_("Sentiment at start"), "score", _ratio("sentiment_start_sum", "sentiment_n")
    ),
    "sentiment_end": Measure(
        N_("Sentiment at end"), "score", _ratio("sentiment_end_sum", "sentiment_n")
    ),
}
DIMENSIONS: dict[str, str] = {
    "channel": N_("Channel"),
    "queue": N_("Queue"),
    "intent": N_("Intent"),
    "agent": N_("Agent"),
    "hour": N_("Hour of day"),
    "day": N_("Day"),
    "week": N_("Week"),
    "month": N_("Month"),
}
TIME_DIMENSIONS = ("hour", "day", "week", "month")
FILTERS = ("channel", "queue", "intent", "agent")
_COLUMN = {"channel": KpiHourly.channel, "queue": KpiHourly.queue, "intent": KpiHourly.intent,
           "agent": KpiHourly.agent_id}  # fmt: skip


@dataclass
class Query:
    start: datetime  # aware; inclusive
    end: datetime  # aware; exclusive
    measures: Sequence[str]
    dimensions: Sequence[str] = ()
    filters: dict[str, str | int] = field(default_factory=dict)


@dataclass
class Result:
    dimensions: list[str]
    measures: list[str]
    rows: list[dict[str, object]]
    truncated: bool = False  # more groups than the row cap


_PG_FORMAT = {"hour": "HH24", "day": "YYYY-MM-DD", "month": "YYYY-MM"}
_SQLITE_FORMAT = {"hour": "%H", "day": "%Y-%m-%d", "month": "%Y-%m"}
_MYSQL_FORMAT = _SQLITE_FORMAT


def _time_sql(session: AsyncSession, dim: str, zone: ZoneInfo) -> Any:
    """The rollup hour as the local hour of day, day, week (its Monday) or month, in SQL:
    a year by day is then a few hundred groups from the database, not 8,760 hours folded in
    Python. PostgreSQL converts with the zone's rules; SQLite with its offset now (the
    bank's zone, China, has no daylight saving)."""
    if session.bind.dialect.name == "postgresql":
        local = func.timezone(zone.key, KpiHourly.hour)
        if dim == "week":
            return func.to_char(func.date_trunc("week", local), "YYYY-MM-DD")
        return func.to_char(local, _PG_FORMAT[dim])
    offset = datetime.now(zone).utcoffset() or timedelta()
    if session.bind.dialect.name == "mysql":
        local = mysql.shifted(KpiHourly.hour, "MINUTE", int(offset.total_seconds() // 60))
        return (
            mysql.monday(local) if dim == "week" else mysql.date_format(local, _MYSQL_FORMAT[dim])
        )
    shift = f"{int(offset.total_seconds() // 60):+d} minutes"
    if dim == "week":
        return func.date(KpiHourly.hour, shift, "weekday 0", "-6 days")
    return func.strftime(_SQLITE_FORMAT[dim], KpiHourly.hour, shift)


def _zero() -> Sums:
    return dict.fromkeys((*COUNTS, *SUMS, "_saved_cost"), 0.0)


def _daily_time_sql(session: AsyncSession, dim: str) -> Any:
    """kpi_daily's local day as the day, its week (Monday) or its month."""
    day = KpiDaily.day
    if dim == "day":
        return day
    if dim == "month":
        return func.substr(day, 1, 7)
    if session.bind.dialect.name == "postgresql":
        return func.to_char(func.date_trunc("week", func.to_date(day, "YYYY-MM-DD")), "YYYY-MM-DD")
    if session.bind.dialect.name == "mysql":
        return mysql.monday(day)
    return func.date(day, "weekday 0", "-6 days")


def needed(measures: Sequence[str]) -> tuple[list[str], bool]:
    """The rollup columns the measures read, and whether saved cost (per channel) is among
    them: a report sums only those and groups by channel only when it must — 30 days by day ×
    agent otherwise carried every column of every channel's row into Python to fold."""
    seen: set[str] = set()

    class Reading(dict[str, float]):
        def __getitem__(self, key: str) -> float:
            seen.add(key)
            return 1.0

    for name in measures:
        MEASURES[name].value(Reading(), ReportsSettings())
    cost = "_saved_cost" in seen
    if cost:
        seen.add("selfservice_answered")
    return [c for c in (*COUNTS, *SUMS) if c in seen], cost


def _statement(
    session: AsyncSession, query: Query, zone: ZoneInfo, table: Any
) -> tuple[Any, list[str]]:
    """The grouped sums over ``table`` (kpi_hourly or kpi_daily, the same columns) of the
    columns the measures read (``needed``); the caller adds the period."""
    columns = {"channel": table.channel, "queue": table.queue, "intent": table.intent,
               "agent": table.agent_id}  # fmt: skip
    time_sql = (lambda d: _time_sql(session, d, zone)) if table is KpiHourly else (
        lambda d: _daily_time_sql(session, d))  # fmt: skip
    exprs = {d: time_sql(d) if d in TIME_DIMENSIONS else columns[d] for d in query.dimensions}
    sums, cost = needed(query.measures)
    if cost:
        exprs.setdefault("channel", table.channel)
    statement = select(*exprs.values(), *[func.sum(getattr(table, c)) for c in sums])
    by_agent = "agent" in query.dimensions or "agent" in query.filters
    statement = statement.where(table.agent_id >= 0 if by_agent else table.agent_id == -1)
    for name, value in query.filters.items():
        statement = statement.where(columns[name] == value)
    return statement.group_by(*exprs.values()), list(exprs)


async def _fold(
    session: AsyncSession,
    statement: Any,
    names: list[str],
    query: Query,
    settings: ReportsSettings,
    groups: dict[tuple[object, ...], Sums],
) -> None:
    """Adds the statement's rows into ``groups`` (by the query's dimensions)."""
    per_contact = settings.agent_minutes_per_contact * settings.agent_minute_cost
    columns, cost = needed(query.measures)
    for row in await session.execute(statement):
        by_dim = dict(zip(names, row[: len(names)], strict=True))
        key = tuple(by_dim[d] for d in query.dimensions)
        sums = groups.setdefault(key, _zero())
        for name, value in zip(columns, row[len(names) :], strict=True):
            sums[name] += float(value or 0)
        if cost:
            answered = float(row[len(names) + columns.index("selfservice_answered")] or 0)
            price = settings.message_cost.get(by_dim["channel"], 0.0)
            sums["_saved_cost"] += answered * (per_contact - price)


async def run(
    session: AsyncSession,
    query: Query,
    *,
    settings: ReportsSettings,
    zone: ZoneInfo,
    row_cap: int | None = None,
) -> Result:
    """Groups the rollup's rows by the query's dimensions and computes each measure per
    group. SQL sums per (hour, channel, other dims): time and saved cost (per channel) are
    folded here."""
    groups: dict[tuple[object, ...], Sums] = {}
    hourly: list[tuple[datetime, datetime]] = [(query.start, query.end)]
    days = None
    # A long period reads its whole days from the daily rollup (kefu.reports.daily); hour of
    # day needs the hours.
    if query.end - query.start > daily.LONG and "hour" not in query.dimensions:
        hourly, days = daily.split(query.start, query.end, zone)
    for start, end in hourly:
        table = KpiHourly
        statement, names = _statement(session, query, zone, table)
        statement = statement.where(table.hour >= start, table.hour < end)
        await _fold(session, statement, names, query, settings, groups)
    if days is not None:
        statement, names = _statement(session, query, zone, KpiDaily)
        statement = statement.where(KpiDaily.day >= days[0], KpiDaily.day < days[1])
        await _fold(session, statement, names, query, settings, groups)
    keys = sorted(groups, key=lambda k: tuple(str(part) for part in k))
    truncated = row_cap is not None and len(keys) > row_cap
    rows = []
    for key in keys[:row_cap] if row_cap is not None else keys:
        sums = groups[key]
        row: dict[str, object] = dict(zip(query.dimensions, key, strict=True))
        for name in query.measures:
            row[name] = MEASURES[name].value(sums, settings)
        rows.append(row)
    return Result(list(query.dimensions), list(query.measures), rows, truncated)


async def totals(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    settings: ReportsSettings,
    zone: ZoneInfo,
    filters: dict[str, str | int] | None = None,
) -> dict[str, float | None]:
    """Every measure over one period (a dashboard's tiles)."""
    result = await run(
        session, Query(start, end, list(MEASURES), (), filters or {}), settings=settings, zone=zone
    )
    if not result.rows:
        return {name: MEASURES[name].value(_zero(), settings) for name in MEASURES}
    return {name: result.rows[0][name] for name in MEASURES}  # type: ignore[misc]


# Per agent: the rollup's measures plus occupancy (presence samples) and CSAT / QA, which
# kefu.quality records (issue #19 items 4–5).
AGENT_MEASURES = ("handled", "aht", "first_response", "transfers", "sla")


async def occupancy(
    session: AsyncSession, start: datetime, end: datetime, agent_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """Agent id → (engaged minutes, present minutes) in the period (one agent's only when
    ``agent_id`` is given).

    The samples' only index is the key (agent_id, minute), so the agents are named — one
    key range per agent. Filtered on the minute alone, both engines read every sample
    ever taken: with a year of them (6 agents × 8 h a day, 1 M rows, SQLite) /reports/me
    took 2.8 s instead of 8 ms (docs/reports.md). Samples of a deleted agent are not counted
    (no row shows them anyway)."""
    engaged = func.sum(func.cast(AgentMinute.engaged, Integer))
    agents = select(Agent.id).scalar_subquery() if agent_id is None else None
    rows = await session.execute(
        select(AgentMinute.agent_id, engaged, func.count())
        .where(
            AgentMinute.agent_id.in_(agents) if agents is not None
            else AgentMinute.agent_id == agent_id,
            AgentMinute.minute >= start,
            AgentMinute.minute < end,
        )
        .group_by(AgentMinute.agent_id)
    )  # fmt: skip
    return {agent: (int(busy or 0), int(present)) for agent, busy, present in rows}


async def quality_by_agent(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[dict[int, float], dict[int, float]]:
    """(CSAT by agent, QA score by agent) from kefu.quality (its answers and scores)."""
    csat = await quality.csat_by_agent(session, start, end)
    qa = await quality.qa_by_agent(session, start, end)
    return _plain(csat), _plain(qa)


def _plain(values: dict[int, tuple[float, int]]) -> dict[int, float]:
    """Agent id → mean (kefu.quality answers (mean, count) pairs)."""
    return {int(agent): float(pair[0]) for agent, pair in values.items()}


async def agent_rows(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    settings: ReportsSettings,
    zone: ZoneInfo,
    agent_id: int | None = None,
) -> list[dict[str, object]]:
    """One row per agent with activity: id, the rollup measures, occupancy %, CSAT, QA."""
    filters: dict[str, str | int] = {} if agent_id is None else {"agent": agent_id}
    result = await run(
        session,
        Query(start, end, AGENT_MEASURES, ("agent",), filters),
        settings=settings,
        zone=zone,
    )
    busy = await occupancy(session, start, end, agent_id)
    csat, qa = await quality_by_agent(session, start, end)
    rows = []
    for row in result.rows:
        agent = int(row["agent"])  # type: ignore[call-overload]
        if agent == 0:
            continue  # unassigned work is not anyone's
        engaged, present = busy.get(agent, (0, 0))
        row["occupancy"] = round(engaged / present * 100, 1) if present else None
        row["csat"] = csat.get(agent)
        row["qa"] = qa.get(agent)
        rows.append(row)
    if agent_id is not None and not rows:
        engaged, present = busy.get(agent_id, (0, 0))
        rows.append({"agent": agent_id, **dict.fromkeys(AGENT_MEASURES),
                     "occupancy": round(engaged / present * 100, 1) if present else None,
                     "csat": csat.get(agent_id), "qa": qa.get(agent_id)})  # fmt: skip
    return rows
