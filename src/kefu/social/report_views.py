"""Social report pages: the templates (/social/reports) and the custom report
(/social/reports/custom: dimensions × measures × filters, saved per user or shared, exported
as CSV and Excel).

Permission: ``REPORTS_READ`` (supervisors, analysts, admins), like the conversation reports.
Reports are management figures over every platform; agents, who have ``SOCIAL_LISTEN`` for
their own work on posts, do not need them.

Topics, keywords and author names are customers' text: the templates escape them, charts get
them through ``tojson`` (which escapes markup), author names are masked like post text, and
exported cells never start like a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.privacy import mask_text
from kefu.social import reports
from kefu.social.models import STATES, SocialPost, SocialReport
from kefu.social.views import LABELS, _cell
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter()
readers = require(Permission.REPORTS_READ)

TEMPLATES = ("volume", "sentiment", "topics", "timing", "influence", "emotion")
Template = Literal["volume", "sentiment", "topics", "timing", "influence", "emotion"]
Platform = Annotated[str | None, Query(max_length=32, pattern=r"^[a-z0-9_-]*$")]
Code = Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]*$")]
DateText = Annotated[str | None, Query(max_length=10)]
Names = Annotated[list[str], Query(max_length=10)]
ReportId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _pages() -> Any:
    from kefu.web.templating import templates  # the templates import the settings

    return templates


def _date(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise reports.ReportInvalid(f"{field}：日期格式应为 YYYY-MM-DD") from None


def _filters(raw: dict[str, Any]) -> reports.Filters:
    """Filters from the request or a saved report: dates, else ``days`` back from today."""
    equal = {k: raw.get(k) or None for k in ("platform", "emotion", "state")}
    start, end = _date(raw.get("start"), "开始日期"), _date(raw.get("end"), "结束日期")
    if start or end:
        if not (start and end):
            raise reports.ReportInvalid("时间段：请同时填写开始和结束日期")
        return reports.Filters(start, end, **equal).validate()
    days = raw.get("days") or 7
    if not isinstance(days, int) or not 1 <= days <= reports.MAX_DAYS:
        raise reports.ReportInvalid(f"时间段：天数应在 1 到 {reports.MAX_DAYS} 之间")
    return reports.Filters.last_days(days, **equal).validate()


async def _platforms(db: AsyncSession) -> list[str]:
    return list((await db.scalars(select(SocialPost.platform).distinct())).all())


def _raw(start: str | None, end: str | None, days: int | None, platform: str | None,
         emotion: str | None, state: str | None) -> dict[str, Any]:  # fmt: skip
    values = {"start": start, "end": end, "days": days, "platform": platform,
              "emotion": emotion, "state": state}  # fmt: skip
    return {k: v for k, v in values.items() if v}


# -- the templates ----------------------------------------------------------------------------
def _template_data(name: str, facts: list[reports.Fact], filters: reports.Filters) -> Any:
    if name == "volume":
        return reports.volume(facts, filters.days)
    if name == "sentiment":
        return reports.sentiment_trend(facts, filters.days)
    if name == "topics":
        return {"topics": [_masked(r) for r in reports.top_topics(facts)],
                "keywords": [_masked(r) for r in reports.top_keywords(facts)]}  # fmt: skip
    if name == "timing":
        return [asdict(t) for t in reports.response_times(facts)]
    if name == "influence":
        data = reports.influence_report(facts)
        top = [asdict(a) | {"name": mask_text(a.name)} for a in data["top"]]
        return {"buckets": data["buckets"], "top": top}
    return reports.emotion_mix(facts)


def _masked(row: reports.Ranked) -> dict[str, Any]:
    # A keyword or topic is a piece of a post: it may be a phone or card number.
    return asdict(row) | {"name": mask_text(row.name)}


def _shown(table: reports.Table) -> reports.Table:
    """The custom report's text cells (topics, above all) masked like post text."""
    return reports.Table(
        table.header, [[mask_text(v) if isinstance(v, str) else v for v in r] for r in table.rows]
    )


@router.get("/social/reports", include_in_schema=False)
async def reports_page(
    request: Request,
    template: Template = "volume",
    start: DateText = None,
    end: DateText = None,
    days: Annotated[int | None, Query(ge=1, le=reports.MAX_DAYS)] = None,
    platform: Platform = None,
    principal: Principal = Depends(readers),
    db: AsyncSession = DB_SESSION,
) -> Response:
    raw = _raw(start, end, days, platform, None, None)
    error, data, filters = None, None, None
    try:
        filters = _filters(raw)
        data = _template_data(template, await reports.load_facts(db, filters), filters)
    except reports.ReportInvalid as exc:
        error = str(exc)
    return _pages().TemplateResponse(
        request,
        "social/reports.html",
        {"principal": principal, "template": template, "templates_": TEMPLATES,
         "data": data, "error": error, "labels": LABELS, "platforms": await _platforms(db),
         "period": {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
         if filters else {"start": start or "", "end": end or ""},
         "platform": platform or ""},
        status_code=422 if error else 200,
    )  # fmt: skip


# -- the custom report ------------------------------------------------------------------------
async def _saved(db: AsyncSession, principal: Principal, report_id: int) -> SocialReport:
    """A saved report its reader may open: their own or a shared one (else 404: others'
    private reports are not even confirmed to exist)."""
    row = await db.get(SocialReport, report_id)
    if row is None or not (row.shared or row.owner == principal.name):
        raise HTTPException(404, f"no social report {report_id}")
    return row


async def _visible(db: AsyncSession, principal: Principal) -> list[SocialReport]:
    query = select(SocialReport).where(
        or_(SocialReport.owner == principal.name, SocialReport.shared.is_(True))
    )
    return list((await db.scalars(query.order_by(SocialReport.name, SocialReport.id))).all())


def _spec(dimension: list[str], measure: list[str], raw: dict[str, Any]) -> reports.Spec:
    return reports.Spec.parse(dimension or ["platform"], measure or ["posts"], raw)


async def _run(db: AsyncSession, spec: reports.Spec) -> reports.Table:
    facts = await reports.load_facts(db, _filters(spec.filters))
    return _shown(reports.custom_report(spec, facts))


@router.get("/social/reports/custom", include_in_schema=False)
async def custom_page(
    request: Request,
    dimension: Names = [],  # noqa: B006 - FastAPI copies the default
    measure: Names = [],  # noqa: B006
    start: DateText = None,
    end: DateText = None,
    days: Annotated[int | None, Query(ge=1, le=reports.MAX_DAYS)] = None,
    platform: Platform = None,
    emotion: Code = None,
    state: Code = None,
    saved: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    principal: Principal = Depends(readers),
    db: AsyncSession = DB_SESSION,
) -> Response:
    opened = await _saved(db, principal, saved) if saved is not None else None
    raw = _raw(start, end, days, platform, emotion, state)
    return await _custom(request, db, principal, dimension, measure, raw, opened=opened)


async def _custom(
    request: Request, db: AsyncSession, principal: Principal, dimension: list[str],
    measure: list[str], raw: dict[str, Any], *, opened: SocialReport | None = None,
    error: str | None = None, name: str = "",
) -> Response:  # fmt: skip
    """The custom report page; on an error the choices and filters stay as typed."""
    table, spec = None, None
    try:
        spec = reports.Spec.from_json(opened.spec) if opened else _spec(dimension, measure, raw)
        table = await _run(db, spec)
    except reports.ReportInvalid as exc:
        error = error or str(exc)
    chosen = spec or reports.Spec(tuple(dimension), tuple(measure), raw)
    return _pages().TemplateResponse(
        request,
        "social/reports_custom.html",
        {"principal": principal, "csrf": csrf_token(request), "error": error, "table": table,
         "spec": chosen, "opened": opened, "saved": await _visible(db, principal),
         "dimensions": reports.DIMENSIONS, "measures": reports.MEASURES, "states": STATES,
         "emotions": ("anger", "anxiety", "disappointment", "praise", "neutral"),
         "labels": LABELS, "platforms": await _platforms(db), "query": _query(chosen),
         "name": name},
        status_code=422 if error else 200,
    )  # fmt: skip


def _query(spec: reports.Spec) -> str:
    from urllib.parse import urlencode

    pairs = [("dimension", d) for d in spec.dimensions] + [("measure", m) for m in spec.measures]
    return urlencode(pairs + [(k, v) for k, v in spec.filters.items() if v])


@router.post("/social/reports/custom", include_in_schema=False)
async def save_report(
    request: Request,
    name: str = Form("", max_length=200),
    shared: str = Form(""),
    dimension: list[str] = Form([]),  # noqa: B006
    measure: list[str] = Form([]),  # noqa: B006
    start: str = Form("", max_length=10),
    end: str = Form("", max_length=10),
    days: str = Form("", max_length=3),
    platform: str = Form("", max_length=32),
    emotion: str = Form("", max_length=32),
    state: str = Form("", max_length=32),
    csrf: str = Form(""),
    principal: Principal = Depends(readers),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Saves the report as shown (its filters as typed: ``days`` stays relative to the day
    it is opened)."""
    check_csrf(request, csrf)
    raw = _raw(start, end, int(days) if days.isdigit() else None, platform, emotion, state)
    try:
        if not name.strip() or len(name.strip()) > 80:
            raise reports.ReportInvalid("名称：请填写 1 到 80 个字")
        spec = reports.Spec.parse(dimension, measure, raw)
        _filters(spec.filters)
    except reports.ReportInvalid as exc:
        return await _custom(request, db, principal, dimension, measure, raw,
                             error=f"报表未保存：{exc}", name=name)  # fmt: skip
    row = SocialReport(name=name.strip(), owner=principal.name, shared=bool(shared),
                       spec=spec.as_json())  # fmt: skip
    db.add(row)
    await db.flush()
    return RedirectResponse(f"/social/reports/custom?saved={row.id}", 303)


@router.post("/social/reports/saved/{report_id}/delete", include_in_schema=False)
async def delete_report(
    request: Request,
    report_id: ReportId,
    csrf: str = Form(""),
    principal: Principal = Depends(readers),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Only the owner deletes a report, shared or not."""
    check_csrf(request, csrf)
    row = await _saved(db, principal, report_id)
    if row.owner != principal.name:
        raise HTTPException(403, "只有创建者可以删除这份报表")
    await db.delete(row)
    return RedirectResponse("/social/reports/custom", 303)


async def _export_table(
    db: AsyncSession, principal: Principal, saved: int | None, dimension: list[str],
    measure: list[str], raw: dict[str, Any],
) -> reports.Table:  # fmt: skip
    if saved is not None:
        spec = reports.Spec.from_json((await _saved(db, principal, saved)).spec)
    else:
        spec = _spec(dimension, measure, raw)
    return await _run(db, spec)


@router.get("/social/reports/custom.{fmt}", include_in_schema=False)
async def custom_export(
    fmt: Annotated[Literal["csv", "xlsx"], Path()],
    dimension: Names = [],  # noqa: B006
    measure: Names = [],  # noqa: B006
    start: DateText = None,
    end: DateText = None,
    days: Annotated[int | None, Query(ge=1, le=reports.MAX_DAYS)] = None,
    platform: Platform = None,
    emotion: Code = None,
    state: Code = None,
    saved: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    principal: Principal = Depends(readers),
    db: AsyncSession = DB_SESSION,
) -> Response:
    raw = _raw(start, end, days, platform, emotion, state)
    try:
        table = await _export_table(db, principal, saved, dimension, measure, raw)
    except reports.ReportInvalid as exc:
        return Response(
            f"报表无法导出：{exc}", status_code=422, media_type="text/plain; charset=utf-8"
        )
    cells = [[_cell(v) for v in row] for row in [table.header, *table.rows]]
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(cells)
        return Response(
            ("\ufeff" + buffer.getvalue()).encode("utf-8"),  # BOM: Excel then reads UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="social-report.csv"'},
        )
    return Response(
        _xlsx(table),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": 'attachment; filename="social-report.xlsx"'},
    )


def _xlsx(table: reports.Table) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "社交媒体报表"
    for row in [table.header, *table.rows]:
        # Numbers stay numbers; text goes through the CSV guard, since openpyxl stores any
        # string starting with "=" as a formula.
        sheet.append([v if isinstance(v, int | float) else _cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
