"""Topics (专题) over HTTP: the list, the form that adds one and the button that removes one
(``reports.build``), and each topic's own sources and behaviour views (``reports.read``) —
the standard analyses over the sessions that touched the topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import topics
from kefu.analytics.analyses import Period, failures, forms, traffic
from kefu.analytics.models import Topic
from kefu.analytics.service import analytics_of
from kefu.auth.permissions import Permission
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter()
Days = Annotated[int, Query(ge=1, le=400)]


def _views(store: Any, period: Period) -> dict[str, Any]:
    """The topic's sources and behaviour: the same analyses as the site's pages."""
    listed = forms.forms(store, period)
    return {
        "sessions": sum(n for _, n in traffic.breakdown(store, period, "channel")),
        "daily": traffic.daily(store, period),
        "channels": traffic.breakdown(store, period, "channel"),
        "referrers": traffic.breakdown(store, period, "referrer", 10),
        "campaigns": traffic.breakdown(store, period, "utm_campaign", 10),
        "devices": traffic.breakdown(store, period, "device"),
        "browsers": traffic.breakdown(store, period, "browser", 10),
        "new_vs_returning": traffic.new_vs_returning(store, period),
        "top_pages": traffic.top_pages(store, period),
        "forms": listed,
        "fields": forms.field_dropoff(store, period, listed[0]["form"]) if listed else [],
        "failing": failures.failing_versions(store, period, "browser"),
    }


async def topic_data(request: Request, topic: Topic, days: int) -> dict[str, Any]:
    store = analytics_of(request.app).store
    period = Period.last(topic.site, days, datetime.now(UTC).date()).within(
        tuple(topic.pages), tuple(topic.events)
    )
    data = await run_in_threadpool(_views, store, period)
    return {"topic": {"id": topic.id, "name": topic.name, "description": topic.description,
                      "site": topic.site, "pages": topic.pages, "events": topic.events},
            "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
            **data}  # fmt: skip


def _render(request: Request, principal: Principal, name: str, data: dict[str, Any]) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(request, f"analytics/{name}.html", {
        "principal": principal, "csrf": csrf_token(request), "page": "topics",
        "can_edit": principal.can(Permission.REPORTS_BUILD), **data})  # fmt: skip


@router.get("/analytics/topics", include_in_schema=False)
async def topics_page(
    request: Request, db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    sites = request.app.state.settings.analytics.sites
    return _render(request, principal, "topics", {
        "topics": await topics.listed(db), "sites": sites, "error": "", "form": {}})  # fmt: skip


@router.post("/analytics/topics", include_in_schema=False)
async def topic_create(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    pages: Annotated[str, Form(max_length=30_000)] = "",
    events: Annotated[str, Form(max_length=12_000)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    site: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form()] = "",
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_BUILD)),
) -> Response:
    check_csrf(request, csrf)
    sites = request.app.state.settings.analytics.sites
    keys = [s.key for s in sites]
    try:
        if site not in keys:
            site = keys[0] if keys else ""
        parsed = topics.parse(site, name, description, pages, events)
        created = await topics.create(db, parsed, principal.name)
    except topics.TopicError as exc:
        form = {"name": name, "pages": pages, "events": events, "description": description}
        response = _render(request, principal, "topics", {
            "topics": await topics.listed(db), "sites": sites, "error": str(exc),
            "form": form})  # fmt: skip
        response.status_code = 422
        return response
    return RedirectResponse(f"/analytics/topics/{created.id}", status_code=303)


@router.post("/analytics/topics/{topic_id}/delete", include_in_schema=False)
async def topic_delete(
    topic_id: int, request: Request, csrf: Annotated[str, Form()] = "",
    db: AsyncSession = DB_SESSION,
    _: Principal = Depends(require(Permission.REPORTS_BUILD)),
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    if not await topics.remove(db, topic_id):
        raise HTTPException(404, "no such topic")
    return RedirectResponse("/analytics/topics", status_code=303)


async def _found(db: AsyncSession, topic_id: int) -> Topic:
    topic = await topics.get(db, topic_id)
    if topic is None:
        raise HTTPException(404, "no such topic")
    return topic


@router.get("/analytics/topics/{topic_id}", include_in_schema=False)
async def topic_page(
    topic_id: int, request: Request, days: Days = 30, db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    from kefu.analytics.views import channel_label, device_label, topic_charts

    data = await topic_data(request, await _found(db, topic_id), days)
    charts = topic_charts(data, channel_label, device_label)
    return _render(request, principal, "topic", {**data, "days": days, "charts": charts})


@router.get("/api/v1/analytics/topics", tags=["analytics"], summary="The saved topics (专题)")
async def topics_api(
    db: AsyncSession = DB_SESSION,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> list[dict[str, Any]]:
    return [{"id": t.id, "name": t.name, "site": t.site, "description": t.description,
             "pages": t.pages, "events": t.events, "created_by": t.created_by}
            for t in await topics.listed(db)]  # fmt: skip


@router.get("/api/v1/analytics/topics/{topic_id}", tags=["analytics"],
            summary="A topic's sources and behaviour")  # fmt: skip
async def topic_api(
    topic_id: int, request: Request, days: Days = 30, db: AsyncSession = DB_SESSION,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    return await topic_data(request, await _found(db, topic_id), days)
