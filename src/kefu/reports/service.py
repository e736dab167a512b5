"""Running reports for pages, exports and schedules: a builder spec's result as a table with
words (agent names, channel names in the reader's language), and the month's agent KPI
sheet (绩效)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.reports import kpis
from kefu.reports.builder import ReportSpec
from kefu.reports.settings import ReportsSettings


@dataclass
class Table:
    header: list[str]
    rows: list[list[object]]
    truncated: bool
    raw: kpis.Result


async def agent_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(Agent.id, Agent.display_name))
    return {agent_id: name for agent_id, name in rows}


async def table(
    session: AsyncSession,
    spec: ReportSpec,
    *,
    settings: ReportsSettings,
    zone: ZoneInfo,
    translate: Callable[[str], str],
    row_cap: int | None,
) -> Table:
    result = await kpis.run(
        session, spec.query(zone), settings=settings, zone=zone, row_cap=row_cap
    )
    names = await agent_names(session) if "agent" in spec.dimensions else {}
    header = [translate(kpis.DIMENSIONS[d]) for d in spec.dimensions]
    header += [translate(kpis.MEASURES[m].label) for m in spec.measures]
    rows = []
    for row in result.rows:
        cells: list[object] = []
        for d in spec.dimensions:
            value = row[d]
            if d == "agent":
                cells.append(names.get(int(value), "—") if value else translate("Unassigned"))  # type: ignore[call-overload]
            elif d == "channel":
                cells.append(translate(str(value)))
            else:
                cells.append(value if value != "" else "—")
        cells += [row[m] for m in spec.measures]
        rows.append(cells)
    return Table(header, rows, result.truncated, result)


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-11' → the month's first instant and the next month's, in the bank's zone."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return datetime.combine(first, time(), zone), datetime.combine(following, time(), zone)


SHEET_COLUMNS = (
    ("agent", "Agent"),
    ("handled", "Conversations handled"),
    ("aht", "Average handle time"),
    ("first_response", "Average first response"),
    ("sla", "SLA met"),
    ("transfers", "Transfers"),
    ("occupancy", "Occupancy"),
    ("csat", "CSAT"),
    ("qa", "QA score"),
)


async def agent_sheet(
    session: AsyncSession,
    month: str,
    *,
    settings: ReportsSettings,
    zone: ZoneInfo,
    translate: Callable[[str], str],
) -> tuple[list[str], list[list[object]]]:
    """The month's agent KPI sheet (绩效): one row per agent with work that month."""
    start, end = month_bounds(month, zone)
    rows = await kpis.agent_rows(session, start, end, settings=settings, zone=zone)
    names = await agent_names(session)
    header = [translate(label) for _, label in SHEET_COLUMNS]
    body = []
    for row in sorted(rows, key=lambda r: names.get(int(r["agent"]), "")):  # type: ignore[call-overload]
        cells: list[object] = [names.get(int(row["agent"]), str(row["agent"]))]  # type: ignore[call-overload]
        cells += [row.get(key) for key, _ in SHEET_COLUMNS[1:]]
        body.append(cells)
    return header, body
