"""The daily rollup: ``kpi_hourly`` summed per local day into ``kpi_daily``, for long periods.

A year by channel from kpi_hourly reads 8,760 hours × the groups; from kpi_daily 365 days ×
the groups. Sums and counts add up, so a day row is exactly its hours' sum and every measure
is the same from either table. A period longer than ``LONG`` (and not grouped by hour of
day, which needs hours) is read as its whole local days from kpi_daily plus the partial days
at either end from kpi_hourly (kefu.reports.kpis.run merges the two).

Kept current by the rollup (kefu.reports.rollup.rollup): every local day that had an hour
re-rolled is rebuilt from kpi_hourly with one INSERT … SELECT; the first run after the table
appears builds every day there is ("daily" in kpi_rollup_state marks it done).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db import mysql
from kefu.reports.models import COUNTS, SUMS, KpiDaily, KpiHourly, RollupState

# Periods longer than this read whole days from kpi_daily. One day, not a month: 30 days by
# day × agent read 720 hours of every agent's rows from kpi_hourly (1.7 s at 1 M
# conversations), the same figures as 30 day rows.
LONG = timedelta(days=1)
STATE = "daily"
KEYS = ("day", "channel", "queue", "intent", "agent_id")


def local_day_sql(session: AsyncSession, zone: ZoneInfo) -> Any:
    """kpi_hourly.hour as its local day 'YYYY-MM-DD' (as kefu.reports.kpis groups days)."""
    if session.bind.dialect.name == "postgresql":
        return func.to_char(func.timezone(zone.key, KpiHourly.hour), "YYYY-MM-DD")
    offset = datetime.now(zone).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if session.bind.dialect.name == "mysql":
        return mysql.date_format(mysql.shifted(KpiHourly.hour, "MINUTE", minutes), "%Y-%m-%d")
    return func.strftime("%Y-%m-%d", KpiHourly.hour, f"{minutes:+d} minutes")


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


async def rebuild(session: AsyncSession, days: Iterable[date], zone: ZoneInfo) -> int:
    """Rebuilds ``days`` (local) from kpi_hourly; returns how many days. The caller commits."""
    todo = sorted(set(days))
    day_sql = local_day_sql(session, zone)
    columns = (*COUNTS, *SUMS)
    for first, last in _runs(todo):
        start, end = day_start(first, zone), day_start(last + timedelta(days=1), zone)
        await session.execute(
            delete(KpiDaily).where(
                KpiDaily.day >= first.isoformat(), KpiDaily.day <= last.isoformat()
            )
        )
        rows = (
            select(day_sql, KpiHourly.channel, KpiHourly.queue, KpiHourly.intent,
                   KpiHourly.agent_id, *[func.sum(getattr(KpiHourly, c)) for c in columns])
            .where(KpiHourly.hour >= start, KpiHourly.hour < end)
            .group_by(day_sql, KpiHourly.channel, KpiHourly.queue, KpiHourly.intent,
                      KpiHourly.agent_id)
        )  # fmt: skip
        await session.execute(insert(KpiDaily).from_select([*KEYS, *columns], rows))
    return len(todo)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days merged: one statement per run (at most 62 days each)."""
    out: list[tuple[date, date]] = []
    for day in days:
        if out and day - out[-1][1] == timedelta(days=1) and (day - out[-1][0]).days < 62:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


async def after_rollup(session: AsyncSession, hours: Iterable[datetime], zone: ZoneInfo) -> int:
    """The days of the re-rolled ``hours`` rebuilt; on the first run every day there is."""
    state = await session.get(RollupState, STATE)
    if state is None:
        session.add(RollupState(source=STATE, last_id=1))
        first, last = (await session.execute(select(func.min(KpiHourly.hour),
                                                    func.max(KpiHourly.hour)))).one()  # fmt: skip
        if first is None:
            return 0
        first_day, last_day = _local(first, zone), _local(last, zone)
        return await rebuild(session, _between(first_day, last_day), zone)
    return await rebuild(session, {_local(h, zone) for h in hours}, zone)


def _local(at: datetime, zone: ZoneInfo) -> date:
    if at.tzinfo is None:  # SQLite hands back naive UTC
        from datetime import UTC

        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).date()


def _between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def split(
    start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[list[tuple[datetime, datetime]], tuple[str, str] | None]:
    """[start, end) as the hourly spans at its ends and the whole local days between
    (first day, day after the last, as 'YYYY-MM-DD'); no days when there is no whole one."""
    local_start = start.astimezone(zone)
    first = (
        local_start.date()
        if local_start.timetz().replace(tzinfo=None) == time()
        else local_start.date() + timedelta(days=1)
    )
    after = end.astimezone(zone).date()  # the day the period ends in (its midnight ≤ end)
    if after <= first:
        return [(start, end)], None
    hourly = []
    if day_start(first, zone) > start:
        hourly.append((start, day_start(first, zone)))
    if day_start(after, zone) < end:
        hourly.append((day_start(after, zone), end))
    return hourly, (first.isoformat(), after.isoformat())
