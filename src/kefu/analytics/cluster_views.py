"""Behaviour clustering pages (issue #16, part 3): run a clustering of a site's signed-in
customers over a period (in the background, with progress), read each cluster's label, size,
trend and bank profile, export its customer numbers (CSV, Excel) or save them as a segment
for campaigns. Reading needs reports.read; numbers leave only with SEGMENTS_EXPORT, audited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import segments
from kefu.analytics.clusters import runs
from kefu.analytics.clusters.models import ClusterRun
from kefu.analytics.customer_behaviour_views import router as behaviour_router
from kefu.analytics.customer_numbers import FORMATS, export_response, masked
from kefu.analytics.segment_views import value_label
from kefu.analytics.service import analytics_of, hash_key
from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require
from kefu.web.i18n import gettext_ as _

router = APIRouter()
router.include_router(behaviour_router)  # the customer view: agent's panel, analyst's page
RunId = Annotated[int, Path(ge=1)]
Index = Annotated[int, Path(ge=0, le=50)]
STATES = {"running": "进行中", "done": "已完成", "failed": "失败", "interrupted": "已中断"}


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _sites(request: Request) -> list[str]:
    return [s.key for s in request.app.state.settings.analytics.sites]


def _sparkline(days: list[str], values: list[int]) -> dict[str, Any]:
    return {
        "grid": {"left": 2, "right": 2, "top": 4, "bottom": 4},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": days, "show": False},
        "yAxis": {"type": "value", "show": False, "min": 0},
        "series": [{"name": _("Sessions"), "type": "line", "data": values, "symbol": "none",
                    "areaStyle": {"opacity": 0.2}}],
    }  # fmt: skip


def run_dict(run: ClusterRun) -> dict[str, Any]:
    result = run.result or {}
    return {
        "id": run.id, "site": run.site, "since": run.since.isoformat(),
        "until": run.until.isoformat(), "days": (run.until - run.since).days + 1,
        "state": runs.state(run),
        "state_label": STATES[runs.state(run)], "progress": run.progress, "step": run.step,
        "k": run.k, "silhouette": run.silhouette, "stability": run.stability,
        "customers": run.customers, "error": run.error, "created_by": run.created_by,
        "created_at": run.created_at.isoformat(),
        "clusters": result.get("clusters", []), "dates": result.get("days", []),
        "scores": result.get("scores", []),
    }  # fmt: skip


async def _run(db: AsyncSession, run_id: int) -> ClusterRun:
    run = await db.get(ClusterRun, run_id)
    if run is None:
        raise HTTPException(404, "no such clustering run")
    return run


@router.get("/analytics/clusters", include_in_schema=False)
async def clusters_page(
    request: Request, run: Annotated[int | None, Query(ge=1)] = None,
    notice: Annotated[str, Query(max_length=200)] = "",
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    from kefu.web.templating import templates

    recent = list(await db.scalars(select(ClusterRun).order_by(ClusterRun.id.desc()).limit(10)))
    chosen = await _run(db, run) if run else next(iter(recent), None)
    shown = run_dict(chosen) if chosen else None
    if shown:
        for c in shown["clusters"]:
            c["chart"] = _sparkline(shown["dates"], c["trend"])
            bank = c["bank"]
            bank["tier_words"] = [(value_label("tier", t), n) for t, n in bank["tier"]]
            bank["product_words"] = [(value_label("products", p), s) for p, s in bank["products"]]
    return templates.TemplateResponse(request, "analytics/clusters.html", {
        "principal": principal, "csrf": csrf_token(request), "page": "clusters",
        "sites": _sites(request), "recent": [run_dict(r) for r in recent], "run": shown,
        "notice": notice, "may_export": principal.can(Permission.SEGMENTS_EXPORT),
    })  # fmt: skip


@router.post("/analytics/clusters", include_in_schema=False)
async def start_run(
    request: Request,
    site: Annotated[str, Form(max_length=64)] = "",
    days: Annotated[int, Form(ge=1, le=400)] = 30,
    csrf: Annotated[str, Form(max_length=128)] = "",
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    """Start a clustering of the site's signed-in customers over the last ``days`` days."""
    check_csrf(request, csrf)
    sites = _sites(request)
    if site not in sites:
        raise HTTPException(422, f"site: one of {', '.join(sites) or '(none configured)'}")
    busy = await runs.running(db, site)
    if busy is not None:  # one run per site at a time: a second click follows the first
        return RedirectResponse(f"/analytics/clusters?run={busy.id}", status_code=303)
    until = datetime.now(UTC).date()
    run = await runs.start(db, site=site, since=until - timedelta(days=days - 1), until=until,
                           actor=principal.name)  # fmt: skip
    await db.commit()
    app = request.app
    runs.launch(app.state.sessionmaker, run.id, analytics_of(app).store, app.state.bank,
                hash_key(app.state.settings))  # fmt: skip
    return RedirectResponse(f"/analytics/clusters?run={run.id}", status_code=303)


@router.get("/analytics/clusters/runs/{run_id}/progress", include_in_schema=False)
async def run_progress(
    request: Request, run_id: RunId, db: AsyncSession = DB_SESSION,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    """The progress line the page polls; when the run has ended, htmx reloads the page."""
    from kefu.web.templating import templates

    run = run_dict(await _run(db, run_id))
    headers = {"HX-Refresh": "true"} if run["state"] != "running" else {}
    return templates.TemplateResponse(request, "analytics/clusters_progress.html",
                                      {"run": run}, headers=headers)  # fmt: skip


@router.get("/api/v1/analytics/clusters/runs/{run_id}", tags=["analytics"],
            summary="A clustering run: its state, clusters, trends and bank profiles")  # fmt: skip
async def run_api(
    run_id: RunId, db: AsyncSession = DB_SESSION,
    _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    return run_dict(await _run(db, run_id))


async def _numbers(db: AsyncSession, run_id: int, index: int) -> list[str]:
    try:
        return await runs.exportable(db, run_id, index)
    except LookupError:
        raise HTTPException(404, "no such cluster in a finished run") from None


@router.get(
    "/api/v1/analytics/clusters/runs/{run_id}/{index}/members",
    tags=["analytics"],
    summary="A cluster's customer numbers (masked unless the role may export segments)",
)
async def cluster_members_api(
    request: Request, run_id: RunId, index: Index, db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    numbers = await _numbers(db, run_id, index)
    full = principal.can(Permission.SEGMENTS_EXPORT)
    if full:  # whole numbers leave the system: say who took them
        await record(db, actor=principal.name, action="analytics.cluster.read",
                     target=f"cluster:{run_id}/{index}", details={"size": len(numbers)},
                     ip=_ip(request))  # fmt: skip
        await db.commit()
    return {"run": run_id, "cluster": index, "masked": not full,
            "customers": numbers if full else [masked(n) for n in numbers]}  # fmt: skip


@router.get("/analytics/clusters/runs/{run_id}/{index}/export.{fmt}", include_in_schema=False)
async def cluster_export(
    request: Request, run_id: RunId, index: Index, fmt: str,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.SEGMENTS_EXPORT)),
) -> Response:  # fmt: skip
    """A cluster's customer numbers as CSV or Excel, for a campaign tool outside kefu."""
    if fmt not in FORMATS:
        raise HTTPException(404, f"export as {' or '.join(FORMATS)}")
    numbers = await _numbers(db, run_id, index)
    await record(db, actor=principal.name, action="analytics.cluster.export",
                 target=f"cluster:{run_id}/{index}", details={"size": len(numbers), "format": fmt},
                 ip=_ip(request))  # fmt: skip
    await db.commit()
    return export_response(numbers, fmt, f"cluster-{run_id}-{index + 1}")


@router.post("/analytics/clusters/runs/{run_id}/{index}/segment", include_in_schema=False)
async def save_as_segment(
    request: Request, run_id: RunId, index: Index,
    name: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.SEGMENTS_EXPORT)),
) -> Response:  # fmt: skip
    """Save the cluster's customers as a segment campaigns can address (audited)."""
    check_csrf(request, csrf)
    numbers = await _numbers(db, run_id, index)
    run = await _run(db, run_id)
    label = next((c["label"] for c in run.result.get("clusters", []) if c["index"] == index), "")
    try:
        seg = await segments.save_segment(
            db, name=name, customer_nos=numbers, actor=principal.name, ip=_ip(request),
            description=label, source=f"聚类 {run_id} 第 {index + 1} 簇（{run.since}–{run.until}）",
        )  # fmt: skip
    except segments.SegmentError as exc:
        await db.rollback()
        return RedirectResponse(
            f"/analytics/clusters?run={run_id}&notice={_quote(str(exc))}", status_code=303
        )
    await db.commit()
    done = f"已保存为客户群「{seg.name}」（{seg.size} 位客户）"
    return RedirectResponse(f"/analytics/clusters?run={run_id}&notice={_quote(done)}",
                            status_code=303)  # fmt: skip


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:190])
