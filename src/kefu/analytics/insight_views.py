"""Behaviour analysis II pages (issue #16): metric anomalies with their ranked root causes,
a drill-down chart and links to the sessions behind a cause. JSON under /api/v1/analytics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import anomalies, segments
from kefu.analytics.analyses.period import Period
from kefu.analytics.customer_numbers import export_response, masked
from kefu.analytics.generate import GOAL
from kefu.analytics.rca import Cause
from kefu.analytics.service import analytics_of
from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.web.deps import DB_SESSION, Principal, csrf_token, require
from kefu.web.i18n import gettext_ as _

router = APIRouter()

Site = Annotated[str | None, Query(max_length=64)]
Days = Annotated[int, Query(ge=1, le=90)]


def metric_label(metric: str) -> str:
    return {"traffic": _("Traffic (sessions)"), "conversion": _("Conversion rate"),
            "error_rate": _("Error rate"), "task_completion": _("Task completion")}.get(metric, metric)  # fmt: skip


def dimension_label(dim: str) -> str:
    return {"campaign": _("Campaign"), "browser": _("Browser"), "landing": _("Landing page"),
            "source": _("Source"), "device": _("Device"), "os": _("Operating system"),
            "region": _("Region")}.get(dim, dim)  # fmt: skip


def _period(request: Request, site: str | None, days: int) -> Period:
    sites = analytics_of(request.app).collector.sites
    chosen = site if site in sites else next(iter(sites), "")
    return Period.last(chosen, days, datetime.now(UTC).date())


async def _run(func: Any, *args: Any) -> Any:
    try:
        return await run_in_threadpool(func, *args)  # DuckDB blocks: a worker thread
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _page(request: Request, principal: Principal, name: str, data: dict[str, Any]) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        f"analytics/{name}.html",
        {"principal": principal, "csrf": csrf_token(request), "page": "anomalies",
         "sites": list(analytics_of(request.app).collector.sites.values()), **data},
    )  # fmt: skip


def _cause(c: Cause, days: int) -> dict[str, Any]:
    pairs = [{"dim": d, "label": dimension_label(d), "value": v} for d, v in c.element]
    # the recorded sessions behind a cause: the replay list filters by browser and page
    query: dict[str, Any] = {"days": days}
    for d, v in c.element:
        if d == "browser":
            query["browser"] = v
        elif d == "landing":
            query["reached"] = v
    return {"element": c.text, "pairs": pairs, "share": c.share, "actual": c.actual,
            "forecast": c.forecast, "leaves": c.leaves, "score": c.score,
            "replays": query}  # fmt: skip


def _anomaly(a: anomalies.Anomaly) -> dict[str, Any]:
    return {"metric": a.metric, "label": metric_label(a.metric), "day": a.day.isoformat(),
            "actual": a.actual, "forecast": a.forecast, "low": a.low, "high": a.high,
            "rate": anomalies.METRICS[a.metric][1] is not None}  # fmt: skip


async def anomalies_data(request: Request, site: str | None, days: int) -> dict[str, Any]:
    a = analytics_of(request.app)
    p = _period(request, site, days)
    found = await _run(anomalies.detect, a.store, p, GOAL)
    return {"site": p.site, "days": days, "anomalies": [_anomaly(x) for x in found]}


async def anomaly_data(
    request: Request, metric: str, day: date, site: str | None, days: int
) -> dict[str, Any]:
    if metric not in anomalies.METRICS:
        raise HTTPException(404, "unknown metric")
    a = analytics_of(request.app)
    p = _period(request, site, max(days, 1))
    window = Period(p.site, day - timedelta(days=13), day)

    def compute() -> dict[str, Any]:
        points = anomalies.series(a.store, window, metric, GOAL)
        causes = anomalies.explain(a.store, window, metric, day, GOAL)
        return {"points": points, "causes": causes}

    got = await _run(compute)
    points = got["points"]
    return {
        "site": p.site, "metric": metric, "label": metric_label(metric), "day": day.isoformat(),
        "days": days, "rate": anomalies.METRICS[metric][1] is not None,
        "series": [{"day": x.day.isoformat(), "actual": x.actual, "forecast": x.forecast,
                    "low": x.low, "high": x.high, "anomalous": x.anomalous} for x in points],
        "causes": [_cause(c, days) for c in got["causes"]],
    }  # fmt: skip


def _chart(data: dict[str, Any]) -> dict[str, Any]:
    s = data["series"]
    lows = [x["low"] for x in s]
    width = [None if x["low"] is None else x["high"] - x["low"] for x in s]
    return {
        "title": {"text": data["label"], "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "data": [_("Actual"), _("Forecast")]},
        "xAxis": {"type": "category", "data": [x["day"] for x in s]},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {"name": "low", "type": "line", "data": lows, "stack": "band", "symbol": "none",
             "lineStyle": {"opacity": 0}},
            {"name": _("Normal band"), "type": "line", "data": width, "stack": "band",
             "symbol": "none", "lineStyle": {"opacity": 0}, "areaStyle": {"opacity": 0.2}},
            {"name": _("Forecast"), "type": "line", "data": [x["forecast"] for x in s],
             "lineStyle": {"type": "dashed"}},
            {"name": _("Actual"), "type": "line", "data": [
                {"value": x["actual"], "itemStyle": {"color": "#c0392b"}} if x["anomalous"]
                else x["actual"] for x in s]},
        ],
    }  # fmt: skip


def _cause_chart(data: dict[str, Any]) -> dict[str, Any]:
    causes = data["causes"]
    return {
        "title": {"text": _("Share of the change"), "textStyle": {"fontSize": 14}},
        "tooltip": {},
        "grid": {"left": 220, "right": 20},
        "xAxis": {"type": "value", "axisLabel": {"formatter": "{value}%"}},
        "yAxis": {"type": "category", "inverse": True,
                  "data": [" & ".join(f"{p['label']}={p['value']}" for p in c["pairs"])
                           for c in causes]},
        "series": [{"type": "bar", "data": [round(c["share"] * 100, 1) for c in causes]}],
    }  # fmt: skip


@router.get("/api/v1/analytics/anomalies", tags=["analytics"], summary="Metric anomalies")
async def anomalies_api(
    request: Request, site: Site = None, days: Days = 14,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    """Days where traffic, conversion, error rate or task completion left its normal band."""
    return await anomalies_data(request, site, days)


@router.get(
    "/api/v1/analytics/anomalies/{metric}/{day}",
    tags=["analytics"],
    summary="One anomaly with its ranked root causes",
)
async def anomaly_api(
    request: Request, metric: str, day: date, site: Site = None, days: Days = 14,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    """The metric around the day with its band, and the elements (campaign, browser, landing
    page, source, device, OS, region and their combinations) that explain the change."""
    return await anomaly_data(request, metric, day, site, days)


@router.get("/analytics/anomalies", include_in_schema=False)
async def anomalies_page(
    request: Request, site: Site = None, days: Days = 14,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    data = await anomalies_data(request, site, days)
    return _page(request, principal, "rca_anomalies", data)


@router.get("/analytics/anomalies/{metric}/{day}", include_in_schema=False)
async def anomaly_page(
    request: Request, metric: str, day: date, site: Site = None, days: Days = 14,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    data = await anomaly_data(request, metric, day, site, days)
    charts = {"series": _chart(data), "causes": _cause_chart(data)}
    return _page(request, principal, "rca_anomaly", {**data, "charts": charts})


# -- saved segments: list, members (masked without SEGMENTS_EXPORT), CSV export (audited) ---
@router.get("/api/v1/analytics/segments", tags=["analytics"], summary="Saved customer segments")
async def segments_api(
    db: AsyncSession = DB_SESSION,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> list[dict[str, Any]]:  # fmt: skip
    return [
        {"id": s.id, "name": s.name, "description": s.description, "source": s.source,
         "size": s.size, "created_by": s.created_by, "created_at": s.created_at.isoformat()}
        for s in await segments.list_segments(db)
    ]  # fmt: skip


@router.get(
    "/api/v1/analytics/segments/{segment_id}/members",
    tags=["analytics"],
    summary="A segment's customer numbers (masked unless the role may export segments)",
)
async def segment_members_api(
    segment_id: int,
    request: Request,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    try:
        numbers = await segments.members(db, segment_id)
    except LookupError:
        raise HTTPException(404, "no such segment") from None
    full = principal.can(Permission.SEGMENTS_EXPORT)
    if full:  # whole numbers leave the system: say who took them
        await record(db, actor=principal.name, action="analytics.segment.read",
                     target=f"segment:{segment_id}", details={"size": len(numbers)},
                     ip=request.client.host if request.client else None)  # fmt: skip
        await db.commit()
    return {"segment": segment_id, "masked": not full,
            "customers": numbers if full else [masked(n) for n in numbers]}  # fmt: skip


@router.get("/analytics/segments/{segment_id}/export.csv", include_in_schema=False)
async def segment_export(
    segment_id: int,
    request: Request,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.SEGMENTS_EXPORT)),
) -> Response:  # fmt: skip
    """The customer numbers as CSV, for a campaign tool outside kefu; audited."""
    try:
        numbers = await segments.members(db, segment_id)
    except LookupError:
        raise HTTPException(404, "no such segment") from None
    await record(db, actor=principal.name, action="analytics.segment.export",
                 target=f"segment:{segment_id}", details={"size": len(numbers), "format": "csv"},
                 ip=request.client.host if request.client else None)  # fmt: skip
    await db.commit()
    return export_response(numbers, "csv", f"segment-{segment_id}")
