"""Service-centre reports: the head of service's dashboard (/reports), the supervisor's live
page (/reports/live), an agent's own KPIs (/reports/me), the month's agent KPI sheet, and
the conversations workload API; the report builder lives in builder_views (included here).
Every page reads the hourly rollup (kefu.reports.rollup), never the raw history."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.reports import channels, dashboards, exports, kpis, pdf, service
from kefu.reports.builder_views import router as builder_router
from kefu.reports.settings import ReportsSettings
from kefu.web.deps import DB_SESSION, Principal, csrf_token, require
from kefu.web.i18n import gettext_

router = APIRouter()
router.include_router(builder_router)

Month = Annotated[str, Query(pattern=r"^20\d\d-(0[1-9]|1[0-2])$", description="YYYY-MM")]


def context(request: Request) -> tuple[ReportsSettings, ZoneInfo, date]:
    """The reports settings, the bank's time zone and today there."""
    settings = request.app.state.settings
    zone = ZoneInfo(getattr(settings, "timezone", "Asia/Shanghai"))
    return settings.reports, zone, datetime.now(zone).date()


def labels() -> dict[str, str]:
    """Measure, dimension and code names in the reader's language, for charts and tables."""
    names = {name: gettext_(m.label) for name, m in kpis.MEASURES.items()}
    names |= {name: gettext_(label) for name, label in kpis.DIMENSIONS.items()}
    for code in ("sms", "wechat", "webchat", "weibo", "douyin", "xiaohongshu", "online", "busy",
                 "away", "offline"):  # fmt: skip
        names[code] = gettext_(code)
    return names


class WorkloadReport(BaseModel):
    days: int
    by_channel: dict[str, int]
    by_status: dict[str, int]
    by_day: dict[str, dict[str, int]]  # YYYY-MM-DD -> channel -> count


async def workload(db: AsyncSession, days: int) -> WorkloadReport:
    since = utcnow() - timedelta(days=days)
    rows = (
        await db.execute(
            select(Conversation.channel, Conversation.status, Conversation.created_at).where(
                Conversation.created_at >= since
            )
        )
    ).all()
    by_channel: dict[str, int] = {}
    by_status: dict[str, int] = {}
    by_day: dict[str, dict[str, int]] = {}
    for channel, status, created in rows:
        by_channel[channel] = by_channel.get(channel, 0) + 1
        by_status[status] = by_status.get(status, 0) + 1
        day = by_day.setdefault(created.date().isoformat(), {})
        day[channel] = day.get(channel, 0) + 1
    return WorkloadReport(
        days=days,
        by_channel=by_channel,
        by_status=by_status,
        by_day=dict(sorted(by_day.items())),
    )


@router.get(
    "/api/v1/reports/workload",
    tags=["reports"],
    summary="Conversations per channel, status and day",
)
async def workload_api(
    days: Annotated[int, Query(ge=1, le=366)] = 14,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> WorkloadReport:
    return await workload(db, days)


@router.get(
    "/api/v1/reports/overview",
    tags=["reports"],
    summary="Today against the same day last week, and 30 days of trend (from the rollup)",
)
async def overview_api(
    request: Request,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> dict[str, object]:
    cfg, zone, today = context(request)
    return await dashboards.overview(db, today=today, settings=cfg, zone=zone)


def _page(request: Request, name: str, principal: Principal, **values: object) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "labels": labels(), "csrf": csrf_token(request), **values},
    )


@router.get("/reports", include_in_schema=False)
async def reports_page(
    request: Request,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    cfg, zone, today = context(request)
    data = await dashboards.overview(db, today=today, settings=cfg, zone=zone)
    return _page(request, "reports/overview.html", principal, data=data,
                 units={n: m.unit for n, m in kpis.MEASURES.items()})  # fmt: skip


@router.get(
    "/api/v1/reports/live", tags=["reports"], summary="Queues and agents now, today's agent KPIs"
)
async def live_api(
    request: Request,
    _: Principal = Depends(require(Permission.QUEUES_SUPERVISE)),
    db: AsyncSession = DB_SESSION,
) -> dict[str, object]:
    cfg, zone, today = context(request)
    return await dashboards.live(db, today=today, now=utcnow(), settings=cfg, zone=zone)


@router.get("/reports/live", include_in_schema=False)
async def live_page(
    request: Request,
    principal: Principal = Depends(require(Permission.QUEUES_SUPERVISE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    cfg, zone, today = context(request)
    data = await dashboards.live(db, today=today, now=utcnow(), settings=cfg, zone=zone)
    return _page(request, "reports/live.html", principal, data=data)


@router.get("/api/v1/reports/me", tags=["reports"], summary="The caller's own KPIs")
async def me_api(
    request: Request,
    principal: Principal = Depends(require(Permission.REPORTS_OWN)),
    db: AsyncSession = DB_SESSION,
) -> dict[str, object]:
    cfg, zone, today = context(request)
    return await dashboards.own(db, principal.id, today=today, settings=cfg, zone=zone)


@router.get("/reports/me", include_in_schema=False)
async def me_page(
    request: Request,
    principal: Principal = Depends(require(Permission.REPORTS_OWN)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    cfg, zone, today = context(request)
    data = await dashboards.own(db, principal.id, today=today, settings=cfg, zone=zone)
    return _page(request, "reports/me.html", principal, data=data)


@router.get("/reports/agents/sheet.{fmt}", include_in_schema=False)
async def agent_sheet(
    request: Request,
    fmt: Annotated[Literal["csv", "xlsx", "pdf"], Path()],
    month: Month,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The month's agent KPI sheet (绩效) as CSV, Excel or PDF."""
    cfg, zone, _today = context(request)
    header, rows = await service.agent_sheet(db, month, settings=cfg, zone=zone, translate=gettext_)
    filename = f"agent-kpis-{month}.{fmt}"
    disposition = {"content-disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return StreamingResponse(exports.csv_lines(header, rows), media_type=exports.CSV,
                                 headers=disposition)  # fmt: skip
    if fmt == "pdf":
        title = f"{gettext_('Agent KPIs')} {month}"
        content = await asyncio.to_thread(pdf.table_pdf, title, header, rows)
        return Response(content, media_type=pdf.MEDIA_TYPE, headers=disposition)
    content = exports.xlsx_bytes(gettext_("Agent KPIs"), header, rows)
    return Response(content, media_type=exports.XLSX, headers=disposition)


@router.get("/reports/channels", include_in_schema=False)
async def channels_page(
    request: Request,
    days: Annotated[int, Query(ge=1, le=channels.MAX_DAYS)] = 7,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Per channel over the last ``days`` days: SMS delivery per carrier link and its cost,
    WeChat followers and sends, web chat sessions, social posts."""
    cfg, zone, today = context(request)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
    start = end - timedelta(days=days)
    data = {
        "sms": await channels.sms_links(db, start, end, cfg),
        "wechat": await channels.wechat(db, start, end),
        "webchat": await channels.webchat(db, start, end),
        "social": await channels.social(db, start, end),
    }
    return _page(request, "reports/channels.html", principal, data=data, days=days)
