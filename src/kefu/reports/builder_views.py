"""The report builder's routes: run a query (page and API), export it (CSV streamed, PDF,
Excel), drill down from a cell to its conversations, save and share by role, schedule, and
download what schedules kept. All need REPORTS_BUILD."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.privacy import mask_text
from kefu.reports import exports, kpis, pdf, schedules, service
from kefu.reports.builder import ReportSpec
from kefu.reports.models import ReportRun, ReportSchedule, SavedReport
from kefu.routing.models import RoutingTask
from kefu.vocabulary import Role
from kefu.web.deps import DB_SESSION, Principal, csrf_token, require
from kefu.web.i18n import gettext_

router = APIRouter()
builders = require(Permission.REPORTS_BUILD)
Names = Annotated[list[str], Query(max_length=12)]
Text = Annotated[str | None, Query(max_length=64)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
DRILL_PAGE = 50


def _ctx(request: Request) -> tuple[Any, ZoneInfo, date]:
    settings = request.app.state.settings
    zone = ZoneInfo(getattr(settings, "timezone", "Asia/Shanghai"))
    return settings.reports, zone, datetime.now(zone).date()


def _problem(exc: ValidationError) -> str:
    """The first error in words: 'measures: unknown measure foo; known: …'."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


async def _visible(db: AsyncSession, principal: Principal, report_id: int) -> SavedReport:
    report = await db.get(SavedReport, report_id)
    if report is None or not (
        report.owner == principal.name or principal.role in report.shared_roles
    ):
        raise HTTPException(404, f"no saved report {report_id}")
    return report


async def _spec(
    db: AsyncSession, principal: Principal, today: date, *, saved: int | None,
    measure: list[str], dimension: list[str], start: str | None, end: str | None,
    filters: dict[str, str | None], chart: str | None,
) -> ReportSpec:  # fmt: skip
    raw: dict[str, Any] = {}
    # The form's unused "group by" selects send empty names: not a dimension, not an error.
    measure, dimension = [m for m in measure if m], [d for d in dimension if d]
    if saved is not None:
        raw = dict((await _visible(db, principal, saved)).spec)
    if measure:
        raw["measures"] = measure
    if dimension:
        raw["dimensions"] = dimension
    raw.setdefault("measures", ["conversations", "first_response", "aht", "sla"])
    raw.setdefault("dimensions", ["channel"])
    raw["start"] = start or raw.get("start") or (today - timedelta(days=6)).isoformat()
    raw["end"] = end or raw.get("end") or today.isoformat()
    chosen = {k: v for k, v in filters.items() if v}
    if chosen:
        raw["filters"] = chosen
    if chart:
        raw["chart"] = chart
    try:
        return ReportSpec.model_validate(raw)
    except ValidationError as exc:
        raise HTTPException(422, _problem(exc)) from None


@router.post("/api/v1/reports/query", tags=["reports"], summary="Run a report builder query")
async def query_api(
    request: Request,
    spec: ReportSpec,
    _: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> dict[str, object]:
    cfg, zone, _today = _ctx(request)
    table = await service.table(db, spec, settings=cfg, zone=zone, translate=gettext_,
                                row_cap=cfg.row_cap)  # fmt: skip
    return {
        "header": table.header,
        "rows": table.raw.rows,
        "truncated": table.truncated,
        "message": _cap_message(cfg.row_cap) if table.truncated else "",
    }


def _cap_message(cap: int) -> str:
    return gettext_("Only the first %(cap)s rows are shown: narrow the period or the filters, "
                    "or export the report.") % {"cap": cap}  # fmt: skip


@router.get("/reports/builder", include_in_schema=False)
async def builder_page(
    request: Request,
    measure: Names = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    dimension: Names = [],  # noqa: B006
    start: Text = None,
    end: Text = None,
    channel: Text = None,
    queue: Text = None,
    intent: Text = None,
    agent: Text = None,
    chart: Text = None,
    saved: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    principal: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> Response:
    from kefu.reports.views import labels
    from kefu.web.templating import templates

    cfg, zone, today = _ctx(request)
    filters = {"channel": channel, "queue": queue, "intent": intent, "agent": agent}
    problem = ""
    try:
        spec = await _spec(db, principal, today, saved=saved, measure=measure, dimension=dimension,
                           start=start, end=end, filters=filters, chart=chart)  # fmt: skip
        table = await service.table(db, spec, settings=cfg, zone=zone, translate=gettext_,
                                    row_cap=cfg.row_cap)  # fmt: skip
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        problem, spec, table = str(exc.detail), None, None
    mine = await _shared_with(db, principal)
    return templates.TemplateResponse(
        request,
        "reports/builder.html",
        {
            "principal": principal, "csrf": csrf_token(request), "labels": labels(),
            "spec": spec, "table": table, "problem": problem,
            "cap_message": _cap_message(cfg.row_cap) if table and table.truncated else "",
            "query": request.url.query, "saved": mine,
            "drills": _drills(spec, table) if spec and table else [], "roles": [r.value for r in Role],
            "measures": list(kpis.MEASURES), "dimensions": list(kpis.DIMENSIONS),
        },
        status_code=422 if problem else 200,
    )  # fmt: skip


def _drills(spec: ReportSpec, table: service.Table) -> list[str]:
    """Each result row's drill-down query: the period (one day for a day row) and the row's
    channel, queue, intent and agent on top of the report's filters."""
    links = []
    for row in table.raw.rows:
        params: dict[str, object] = {"start": spec.start, "end": spec.end, **spec.filters}
        for dim in spec.dimensions:
            value = row[dim]
            if dim == "day":
                params["start"] = params["end"] = value
            elif dim in ("channel", "queue", "intent", "agent") and value != "":
                params[dim] = value
        links.append(urlencode(params))
    return links


@router.get("/reports/builder/export.{fmt}", include_in_schema=False)
async def builder_export(
    request: Request,
    fmt: Annotated[Literal["csv", "xlsx", "pdf"], Path()],
    measure: Names = [],  # noqa: B006
    dimension: Names = [],  # noqa: B006
    start: Text = None,
    end: Text = None,
    channel: Text = None,
    queue: Text = None,
    intent: Text = None,
    agent: Text = None,
    saved: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    principal: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> Response:
    cfg, zone, today = _ctx(request)
    filters = {"channel": channel, "queue": queue, "intent": intent, "agent": agent}
    spec = await _spec(db, principal, today, saved=saved, measure=measure, dimension=dimension,
                       start=start, end=end, filters=filters, chart=None)  # fmt: skip
    # Exports go further than the page (ten times its row cap) and stream as CSV.
    table = await service.table(db, spec, settings=cfg, zone=zone, translate=gettext_,
                                row_cap=cfg.row_cap * 10)  # fmt: skip
    disposition = {"content-disposition": f'attachment; filename="report.{fmt}"'}
    if fmt == "csv":
        return StreamingResponse(exports.csv_lines(table.header, table.rows),
                                 media_type=exports.CSV, headers=disposition)  # fmt: skip
    if fmt == "pdf":
        subtitle = f"{spec.start} – {spec.end}"
        content = await asyncio.to_thread(pdf.table_pdf, gettext_("Report"), table.header,
                                          table.rows, subtitle=subtitle)  # fmt: skip
        return Response(content, media_type=pdf.MEDIA_TYPE, headers=disposition)
    content = exports.xlsx_bytes(gettext_("Report"), table.header, table.rows)
    return Response(content, media_type=exports.XLSX, headers=disposition)


@router.get("/reports/drill", include_in_schema=False)
async def drill(
    request: Request,
    start: Annotated[date, Query()],
    end: Annotated[date, Query()],
    channel: Text = None,
    queue: Text = None,
    intent: Text = None,
    agent: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    principal: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """A report cell's conversations (opened in the period with the cell's channel, queue,
    intent, agent), newest first, a page at a time; subjects masked."""
    from kefu.web.templating import templates

    _cfg, zone, _today = _ctx(request)
    if end < start or (end - start).days > 400:
        raise HTTPException(422, "end is before start, or the period is over 400 days")
    statement = (
        select(Conversation, RoutingTask.queue)
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
        .where(Conversation.created_at >= datetime.combine(start, time(), zone),
               Conversation.created_at < datetime.combine(end + timedelta(days=1), time(), zone))
    )  # fmt: skip
    if channel:
        statement = statement.where(Conversation.channel == channel)
    if queue:
        statement = statement.where(RoutingTask.queue == queue)
    if intent:
        statement = statement.where(Conversation.intent == intent)
    if agent is not None:
        statement = statement.where(
            Conversation.assigned_agent_id.is_(None) if agent == 0
            else Conversation.assigned_agent_id == agent
        )  # fmt: skip
    rows = (
        await db.execute(
            statement.order_by(Conversation.id.desc())
            .limit(DRILL_PAGE + 1)
            .offset((page - 1) * DRILL_PAGE)
        )
    ).all()
    items = [
        {"opened": c.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), "id": c.id, "channel": c.channel, "queue": q or "", "intent": c.intent or "",
         "subject": mask_text(c.subject), "status": c.status, "created_at": c.created_at,
         "agent": c.assigned_agent_id}
        for c, q in rows[:DRILL_PAGE]
    ]  # fmt: skip
    return templates.TemplateResponse(
        request, "reports/drill.html",
        {"principal": principal, "items": items, "page": page, "more": len(rows) > DRILL_PAGE,
         "base": urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page"]),
         "csrf": csrf_token(request)},
    )  # fmt: skip


class SaveIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=80)
    spec: ReportSpec
    shared_roles: list[str] = Field(default_factory=list, max_length=8)

    @field_validator("shared_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        known = {r.value for r in Role}
        unknown = [r for r in value if r not in known]
        if unknown:
            raise ValueError(
                f"unknown role {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return sorted(set(value))


class SavedOut(BaseModel):
    id: int
    name: str
    owner: str
    spec: dict[str, Any]
    shared_roles: list[str]


async def _shared_with(db: AsyncSession, principal: Principal) -> list[SavedReport]:
    """Reports the caller saved or that are shared with their role. Roles are matched here,
    not in SQL: JSON lists are queried differently on SQLite and PostgreSQL, and saved
    reports are few."""
    rows = (await db.scalars(select(SavedReport).order_by(SavedReport.id))).all()
    return [r for r in rows if r.owner == principal.name or principal.role in r.shared_roles]


@router.post("/api/v1/reports/saved", tags=["reports"], summary="Save a report, shared by role",
             status_code=201)  # fmt: skip
async def save_report(
    body: SaveIn,
    principal: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> SavedOut:
    report = SavedReport(name=body.name, owner=principal.name,
                         spec=body.spec.model_dump(mode="json"), shared_roles=body.shared_roles)  # fmt: skip
    db.add(report)
    await db.commit()
    return SavedOut(id=report.id, name=report.name, owner=report.owner, spec=report.spec,
                    shared_roles=report.shared_roles)  # fmt: skip


@router.get("/api/v1/reports/saved", tags=["reports"], summary="Reports saved by or shared with me")
async def saved_reports(
    principal: Principal = Depends(builders), db: AsyncSession = DB_SESSION
) -> list[SavedOut]:
    return [
        SavedOut(id=r.id, name=r.name, owner=r.owner, spec=r.spec, shared_roles=r.shared_roles)
        for r in await _shared_with(db, principal)
    ]


class ScheduleIn(BaseModel):
    model_config = {"extra": "forbid"}

    frequency: Literal["daily", "weekly", "monthly"]
    recipients: list[str] = Field(default_factory=list, max_length=20)
    format: Literal["csv", "xlsx", "pdf"] = "xlsx"

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        for address in value:
            local, _, domain = address.partition("@")
            if (
                not local
                or "." not in domain
                or len(address) > 200
                or any(c in address for c in " ,;<>\r\n")
            ):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value


class ScheduleOut(BaseModel):
    id: int
    report_id: int
    frequency: str
    recipients: list[str]
    format: str
    next_run_at: datetime


@router.post("/api/v1/reports/saved/{report_id}/schedules", tags=["reports"],
             summary="E-mail a saved report daily, weekly or monthly", status_code=201)  # fmt: skip
async def add_schedule(
    request: Request,
    report_id: Id,
    body: ScheduleIn,
    principal: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> ScheduleOut:
    _cfg, zone, _today = _ctx(request)
    report = await _visible(db, principal, report_id)
    schedule = ReportSchedule(
        report_id=report.id, frequency=body.frequency, recipients=body.recipients,
        format=body.format, created_by=principal.name,
        next_run_at=schedules.next_run(body.frequency, utcnow(), zone),
    )  # fmt: skip
    db.add(schedule)
    await db.commit()
    return ScheduleOut(id=schedule.id, report_id=report.id, frequency=schedule.frequency,
                       recipients=schedule.recipients, format=schedule.format,
                       next_run_at=schedule.next_run_at)  # fmt: skip


class RunOut(BaseModel):
    id: int
    report_id: int | None
    ran_at: datetime
    period_start: datetime
    period_end: datetime
    filename: str
    rows: int
    delivery: str


@router.get("/api/v1/reports/runs", tags=["reports"], summary="Exports kept by schedules")
async def runs(
    principal: Principal = Depends(builders), db: AsyncSession = DB_SESSION
) -> list[RunOut]:
    visible = {r.id for r in await _shared_with(db, principal)}
    rows = (
        await db.scalars(
            select(ReportRun)
            .where(ReportRun.report_id.in_(visible or {0}))
            .order_by(ReportRun.id.desc())
            .limit(200)
        )
    ).all()
    return [RunOut(id=r.id, report_id=r.report_id, ran_at=r.ran_at, period_start=r.period_start,
                   period_end=r.period_end, filename=r.filename, rows=r.rows, delivery=r.delivery)
            for r in rows]  # fmt: skip


@router.get("/reports/runs/{run_id}/download", include_in_schema=False)
async def download(
    run_id: Id,
    principal: Principal = Depends(builders),
    db: AsyncSession = DB_SESSION,
) -> Response:
    run = await db.get(ReportRun, run_id)
    if run is None or run.report_id is None:
        raise HTTPException(404, f"no kept export {run_id}")
    await _visible(db, principal, run.report_id)
    return Response(run.content, media_type=run.media_type,
                    headers={"content-disposition": f'attachment; filename="{run.filename}"'})  # fmt: skip
