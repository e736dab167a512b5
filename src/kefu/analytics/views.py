"""Behaviour analytics over HTTP: the collector (public, ``POST /collect/{site}``), the
analyst's pages under ``/analytics`` and the same figures as JSON under
``/api/v1/analytics``. Charts are ECharts options built here (labels translated here), drawn
by one static script in the pages' layout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from kefu.analytics.analyses import (
    Period,
    campaigns,
    failures,
    forms,
    funnel,
    paths,
    selfservice,
    traffic,
)
from kefu.analytics.demo_site import router as demo_router
from kefu.analytics.generate import GOAL
from kefu.analytics.regions import ATTRIBUTION_URL, region_name
from kefu.analytics.replay_views import router as replay_router
from kefu.analytics.segment_views import router as segment_router
from kefu.analytics.service import analytics_of, close_analytics
from kefu.analytics.topic_views import router as topic_router
from kefu.auth.permissions import Permission
from kefu.web.deps import Principal, check_csrf, client_ip, csrf_token, require
from kefu.web.i18n import get_locale
from kefu.web.i18n import gettext_ as _


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The failing-version alerts are a background loop (kefu.runtime.WORKERS), not per process.
    try:
        yield
    finally:
        close_analytics(app)  # the writer flushes what is queued


router = APIRouter(lifespan=lifespan)
router.include_router(demo_router)
router.include_router(replay_router)
router.include_router(topic_router)
router.include_router(segment_router)

DEFAULT_FUNNEL = (
    "/demo/bank/,/demo/bank/login,/demo/bank/accounts,/demo/bank/transfer,/demo/bank/transfer/done"
)


# -- the collector ---------------------------------------------------------------------------
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_REFUSALS = {
    400: "The body is not JSON.",
    409: "Every event of the batch was sent before (replayed).",
    422: "The batch's shape or sizes are wrong, or every event was refused.",
    503: "The write queue is full: send again after Retry-After seconds.",
}


@router.post(
    "/collect/{site}",
    tags=["analytics"],
    summary="Behaviour events from the tracker or a native app",
    status_code=202,
    responses={code: {"description": why, "content": _PROBLEM} for code, why in _REFUSALS.items()},
)
async def collect(site: str, request: Request) -> Response:
    """A batch of events (JSON; ``text/plain`` too, as ``sendBeacon`` sends it): see
    docs/analytics.md for the fields. Answers 202 with what was accepted and refused; a
    refusal is problem+json with the same two members."""
    body = await request.body()
    collector = analytics_of(request.app).collector
    ip = client_ip(request) or ""  # read for its region only; never stored
    outcome = collector.accept(site, body, request.headers.get("user-agent", ""), ip)
    payload: dict[str, Any] = {"accepted": outcome.accepted, "refused": outcome.refused}
    headers = {"Retry-After": "5"} if outcome.status == 503 else {}
    origin = request.headers.get("origin")
    if origin and site in collector.sites and origin in collector.sites[site].origins:
        headers["Access-Control-Allow-Origin"] = origin
    if outcome.status < 400:
        return JSONResponse(payload, status_code=outcome.status, headers=headers)
    problem = {"type": "about:blank", "title": HTTPStatus(outcome.status).phrase,
               "status": outcome.status, "detail": outcome.detail, **payload}  # fmt: skip
    return JSONResponse(
        problem, status_code=outcome.status, headers=headers, media_type="application/problem+json"
    )


# -- helpers ---------------------------------------------------------------------------------
def _period(request: Request, site: str | None, days: int) -> Period:
    sites = analytics_of(request.app).collector.sites
    chosen = site if site in sites else next(iter(sites), "")
    return Period.last(chosen, days, datetime.now(UTC).date())


async def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    """DuckDB blocks: run the analysis on a worker thread."""
    try:
        return await run_in_threadpool(func, *args, **kwargs)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _page(request: Request, principal: Principal, name: str, data: dict[str, Any]) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        f"analytics/{name}.html",
        {"principal": principal, "csrf": csrf_token(request), "page": name,
         "sites": list(analytics_of(request.app).collector.sites.values()), **data},
    )  # fmt: skip


def _bar(
    title: str, pairs: list[tuple[str, int]], label: Any = None, every_label: bool = False
) -> dict[str, Any]:
    label = label or (lambda k: k)
    y_axis: dict[str, Any] = {"type": "category", "inverse": True,
                              "data": [label(k) for k, _ in pairs]}  # fmt: skip
    if every_label:  # ECharts skips labels that might crowd; names that matter are all shown
        y_axis["axisLabel"] = {"interval": 0}
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {},
        "grid": {"left": 120, "right": 20},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": y_axis,
        "series": [{"type": "bar", "data": [n for _, n in pairs]}],
    }


def _pie(title: str, pairs: list[tuple[str, int]], label: Any = None) -> dict[str, Any]:
    label = label or (lambda k: k)
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {},
        "series": [{"type": "pie", "radius": "55%",
                    "data": [{"name": label(k), "value": n} for k, n in pairs]}],
    }  # fmt: skip


def channel_label(code: str) -> str:
    return {
        "direct": _("Direct"), "search": _("Search engines"), "social": _("Social media"),
        "referral": _("Other sites"), "campaign": _("Campaigns"), "paid": _("Paid ads"),
        "app": _("Mobile app"),
    }.get(code, code)  # fmt: skip


def device_label(code: str) -> str:
    return {"desktop": _("Desktop"), "mobile": _("Mobile device"), "tablet": _("Tablet")}.get(
        code, code
    )


def region_label(code: str) -> str:
    return region_name(code, get_locale()) if code else _("Unknown")


def topic_charts(data: dict[str, Any], channel: Any, device: Any) -> dict[str, Any]:
    """A topic's charts: its sources and visitors, as on the overview."""
    daily = data["daily"]
    return {
        "daily": {
            "title": {"text": _("Visits per day"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": [d["day"] for d in daily]},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [
                {"name": _("Sessions"), "type": "line", "data": [d["sessions"] for d in daily]}
            ],
        },  # fmt: skip
        "channels": _pie(_("Sessions by source"), data["channels"], channel),
        "referrers": _bar(_("Referring sites"), data["referrers"]),
        "campaigns": _bar(_("Campaigns (UTM)"), data["campaigns"]),
        "devices": _pie(_("Device"), data["devices"], device),
        "browsers": _bar(_("Browser"), data["browsers"]),
    }


Site = Annotated[str | None, Query(max_length=64)]
Days = Annotated[int, Query(ge=1, le=400)]


# -- overview: traffic, sources, characteristics ---------------------------------------------
async def overview_data(request: Request, site: str | None, days: int) -> dict[str, Any]:
    a = analytics_of(request.app)
    p = _period(request, site, days)

    def compute() -> dict[str, Any]:
        return {
            "period": {"site": p.site, "since": p.since.isoformat(), "until": p.until.isoformat()},
            "daily": traffic.daily(a.store, p),
            "channels": traffic.breakdown(a.store, p, "channel"),
            "referrers": traffic.breakdown(a.store, p, "referrer", 10),
            "campaigns": traffic.breakdown(a.store, p, "utm_campaign", 10),
            "devices": traffic.breakdown(a.store, p, "device"),
            "os": traffic.breakdown(a.store, p, "os", 10),
            "browsers": traffic.breakdown(a.store, p, "browser", 10),
            "regions": traffic.regions(a.store, p, 10),
            "new_vs_returning": traffic.new_vs_returning(a.store, p),
            "top_pages": traffic.top_pages(a.store, p),
            # in-app alert: pages failing on a browser or OS version (kefu.analytics.analyses.failures)
            "alerts": failures.failing_versions(a.store, p, "browser")
            + failures.failing_versions(a.store, p, "os"),
            "collector": {"accepted": a.collector.accepted, "written": a.collector.written,
                          "pending": a.collector.pending, "refused": dict(a.collector.refused)},
        }  # fmt: skip

    return await _run(compute)


@router.get("/api/v1/analytics/overview", tags=["analytics"], summary="Traffic, sources, visitors")
async def overview_api(
    request: Request, site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    return await overview_data(request, site, days)


@router.get("/analytics", include_in_schema=False)
async def overview_page(
    request: Request, site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    data = await overview_data(request, site, days)
    daily = data["daily"]
    nvr = data["new_vs_returning"]
    charts = {
        "daily": {
            "title": {"text": _("Visits per day"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"},
            "legend": {"bottom": 0},
            "xAxis": {"type": "category", "data": [d["day"] for d in daily]},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [
                {"name": _("Page views"), "type": "line", "data": [d["pageviews"] for d in daily]},
                {"name": _("Sessions"), "type": "line", "data": [d["sessions"] for d in daily]},
                {"name": _("Visitors"), "type": "line", "data": [d["visitors"] for d in daily]},
            ],
        },  # fmt: skip
        "channels": _pie(_("Sessions by source"), data["channels"], channel_label),
        "referrers": _bar(_("Referring sites"), data["referrers"]),
        "campaigns": _bar(_("Campaigns (UTM)"), data["campaigns"]),
        "devices": _pie(_("Device"), data["devices"], device_label),
        "os": _bar(_("Operating system"), data["os"]),
        "browsers": _bar(_("Browser"), data["browsers"]),
        "regions": _bar(_("Region"), data["regions"], region_label, every_label=True),
        "new_vs_returning": _pie(
            _("New and returning visitors"),
            [(_("New visitors"), nvr["new"]), (_("Returning visitors"), nvr["returning"])],
        ),
    }
    return _page(request, principal, "overview",
                 {**data, "charts": charts, "days": days, "region_attribution": ATTRIBUTION_URL})  # fmt: skip


# -- funnels ---------------------------------------------------------------------------------
def _steps(text: str) -> list[str]:
    return [s.strip() for s in text.replace("\n", ",").split(",") if s.strip()]


@router.get("/api/v1/analytics/funnel", tags=["analytics"], summary="A funnel of pages")
async def funnel_api(
    request: Request,
    steps: Annotated[str, Query(max_length=2000)] = DEFAULT_FUNNEL,
    window: Annotated[int, Query(ge=1, le=60 * 24 * 30)] = 60,
    campaign: Annotated[str, Query(max_length=100)] = "",
    site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> list[dict[str, Any]]:  # fmt: skip
    a = analytics_of(request.app)
    return await _run(funnel.funnel, a.store, _period(request, site, days), _steps(steps),
                      window, campaign)  # fmt: skip


@router.get("/analytics/funnel", include_in_schema=False)
async def funnel_page(
    request: Request,
    steps: Annotated[str, Query(max_length=2000)] = DEFAULT_FUNNEL,
    window: Annotated[int, Query(ge=1, le=60 * 24 * 30)] = 60,
    campaign: Annotated[str, Query(max_length=100)] = "",
    site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    a = analytics_of(request.app)
    rows = await _run(funnel.funnel, a.store, _period(request, site, days), _steps(steps),
                      window, campaign)  # fmt: skip
    chart = {
        "title": {"text": _("Funnel"), "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "item"},
        "series": [{"type": "funnel", "sort": "none", "left": "10%", "width": "60%",
                    "label": {"position": "right"},
                    "data": [{"name": r["step"], "value": r["visitors"]} for r in rows]}],
    }  # fmt: skip
    return _page(request, principal, "funnel", {
        "rows": rows, "steps": steps, "window": window, "campaign": campaign, "days": days,
        "charts": {"funnel": chart}})  # fmt: skip


# -- campaigns -------------------------------------------------------------------------------
@router.get("/api/v1/analytics/campaigns", tags=["analytics"], summary="Campaigns: CPA, ROI")
async def campaigns_api(
    request: Request, goal: Annotated[str, Query(max_length=500)] = GOAL,
    site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> list[dict[str, Any]]:  # fmt: skip
    a = analytics_of(request.app)
    return await _run(campaigns.campaigns, a.store, _period(request, site, days), goal)


@router.get("/analytics/campaigns", include_in_schema=False)
async def campaigns_page(
    request: Request, goal: Annotated[str, Query(max_length=500)] = GOAL,
    site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    a = analytics_of(request.app)
    rows = await _run(campaigns.campaigns, a.store, _period(request, site, days), goal)
    names = [r["campaign"] for r in rows]
    chart = {
        "title": {"text": _("Return on investment"), "textStyle": {"fontSize": 14}},
        "tooltip": {}, "xAxis": {"type": "category", "data": names},
        "yAxis": {"type": "value", "axisLabel": {"formatter": "{value}%"}},
        "series": [{"type": "bar", "data": [round(r["roi"] * 100) if r["roi"] is not None
                                            else 0 for r in rows]}],
    }  # fmt: skip
    return _page(request, principal, "campaigns", {
        "rows": rows, "goal": goal, "days": days, "charts": {"roi": chart},
        "can_edit": principal.can(Permission.REPORTS_BUILD)})  # fmt: skip


@router.post("/analytics/campaigns/cost", include_in_schema=False)
async def campaign_cost(
    request: Request,
    campaign: Annotated[str, Form(min_length=1, max_length=100)],
    cost: Annotated[float, Form(ge=0, le=1e12)],
    value_per_conversion: Annotated[float, Form(ge=0, le=1e9)],
    csrf: Annotated[str, Form()] = "",
    _: Principal = Depends(require(Permission.REPORTS_BUILD)),
) -> Response:
    """The analyst enters a campaign's cost and what one conversion is worth."""
    check_csrf(request, csrf)
    a = analytics_of(request.app)
    await _run(a.store.set_campaign_cost, campaign, cost, value_per_conversion)
    return RedirectResponse("/analytics/campaigns", status_code=303)


# -- paths -----------------------------------------------------------------------------------
@router.get("/api/v1/analytics/paths", tags=["analytics"], summary="Paths after/before a page")
async def paths_api(
    request: Request, page: Annotated[str, Query(max_length=500)] = "/demo/bank/accounts",
    direction: Annotated[str, Query(pattern="^(after|before)$")] = "after",
    depth: Annotated[int, Query(ge=1, le=6)] = 3, site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    a = analytics_of(request.app)
    return await _run(paths.paths, a.store, _period(request, site, days), page, direction, depth)


@router.get("/analytics/paths", include_in_schema=False)
async def paths_page(
    request: Request, page: Annotated[str, Query(max_length=500)] = "/demo/bank/accounts",
    direction: Annotated[str, Query(pattern="^(after|before)$")] = "after",
    depth: Annotated[int, Query(ge=1, le=6)] = 3, site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    a = analytics_of(request.app)
    graph = await _run(paths.paths, a.store, _period(request, site, days), page, direction, depth)
    chart = {
        "tooltip": {"trigger": "item"},
        "series": [{"type": "sankey", "left": 10, "right": 220, "nodeAlign": "left",
                    "emphasis": {"focus": "adjacency"}, "data": graph["nodes"],
                    "links": graph["links"]}],
    }  # fmt: skip
    return _page(request, principal, "paths", {
        "graph": graph, "page_path": page, "direction": direction, "depth": depth,
        "days": days, "charts": {"sankey": chart}})  # fmt: skip


# -- forms and clicks ------------------------------------------------------------------------
@router.get("/api/v1/analytics/forms", tags=["analytics"], summary="Forms and field drop-off")
async def forms_api(
    request: Request, form: Annotated[str, Query(max_length=100)] = "",
    site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    return await _forms(request, form, site, days)


async def _forms(request: Request, form: str, site: str | None, days: int) -> dict[str, Any]:
    a = analytics_of(request.app)
    p = _period(request, site, days)
    listed = await _run(forms.forms, a.store, p)
    chosen = form or (listed[0]["form"] if listed else "")
    fields = await _run(forms.field_dropoff, a.store, p, chosen) if chosen else []
    return {"forms": listed, "form": chosen, "fields": fields}


@router.get("/analytics/forms", include_in_schema=False)
async def forms_page(
    request: Request, form: Annotated[str, Query(max_length=100)] = "",
    site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    data = await _forms(request, form, site, days)
    fields = data["fields"]
    chart = {
        "title": {"text": _("Where visitors leave the form"), "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"}, "legend": {"bottom": 0},
        "xAxis": {"type": "category", "data": [f["field"] for f in fields]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": _("Reached"), "type": "bar", "data": [f["reached"] for f in fields]},
            {"name": _("Left here"), "type": "bar", "data": [f["abandoned_here"] for f in fields]},
        ],
    }  # fmt: skip
    return _page(request, principal, "forms", {**data, "days": days, "charts": {"fields": chart}})


# -- failing pages and broken links ----------------------------------------------------------
async def _failures(request: Request, site: str | None, days: int) -> dict[str, Any]:
    a = analytics_of(request.app)
    p = _period(request, site, days)

    def compute() -> dict[str, Any]:
        return {
            "by_browser": failures.failing_versions(a.store, p, "browser"),
            "by_os": failures.failing_versions(a.store, p, "os"),
            "broken_links": failures.broken_links(a.store, p),
            "by_browser_os": failures.error_rate_by_browser_os(a.store, p),
        }

    return await _run(compute)


@router.get("/api/v1/analytics/failures", tags=["analytics"],
            summary="Pages failing on a browser/OS version; broken links")  # fmt: skip
async def failures_api(
    request: Request, site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    return await _failures(request, site, days)


@router.get("/analytics/failures", include_in_schema=False)
async def failures_page(
    request: Request, site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    data = await _failures(request, site, days)
    return _page(request, principal, "failures", {**data, "days": days, "charts": {}})


# -- self-service ----------------------------------------------------------------------------
@router.get("/api/v1/analytics/selfservice", tags=["analytics"], summary="Self-service tasks")
async def selfservice_api(
    request: Request, site: Site = None, days: Days = 30,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> list[dict[str, Any]]:  # fmt: skip
    a = analytics_of(request.app)
    return await _run(selfservice.tasks, a.store, _period(request, site, days))


@router.get("/analytics/selfservice", include_in_schema=False)
async def selfservice_page(
    request: Request, site: Site = None, days: Days = 30,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    a = analytics_of(request.app)
    rows = await _run(selfservice.tasks, a.store, _period(request, site, days))
    chart = {
        "title": {"text": _("Tasks completed online"), "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"}, "legend": {"bottom": 0},
        "xAxis": {"type": "category", "data": [r["name"] for r in rows]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": _("Completed"), "type": "bar", "stack": "t", "data": [r["completed"] for r in rows]},
            {"name": _("Abandoned"), "type": "bar", "stack": "t", "data": [r["abandoned"] for r in rows]},
        ],
    }  # fmt: skip
    return _page(request, principal, "selfservice", {"rows": rows, "days": days,
                                                     "charts": {"tasks": chart}})  # fmt: skip
