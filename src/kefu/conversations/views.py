"""Conversation search (``CONVERSATIONS_SEARCH``: supervisors, analysts): words over every
message with filters, and the matching conversations' transcripts exported as CSV, Excel or PDF.

Masked by role: every text has its card, ID and phone numbers masked (the index never held
them); the customer's address is shown masked to roles that read customers
(``CUSTOMERS_READ``: supervisors) and not at all to the others (analysts). Every search and
every export is audited with its words (masked) and filters."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record as audit
from kefu.auth.permissions import Permission
from kefu.conversations import search
from kefu.privacy import mask_text
from kefu.web.deps import DB_SESSION, Principal, client_ip, require

router = APIRouter()
searchers = require(Permission.CONVERSATIONS_SEARCH)
Text = Annotated[str, Query(max_length=200)]
Code = Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9_-]*$")]
DateText = Annotated[str, Query(max_length=10)]
# The form's "all agents" option sends agent= (empty): text, read as an id when given.
AgentId = Annotated[str, Query(max_length=10, pattern=r"^[0-9]*$")]
EXPORT_CONVERSATIONS = 500  # an export covers at most this many conversations
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _pages() -> Any:
    from kefu.web.templating import templates  # the templates import the settings

    return templates


def _day(text: str, field: str, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise search.SearchInvalid(f"{field}：日期格式应为 YYYY-MM-DD") from None
    return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)


def _filters(channel: str, agent: str, queue: str, start: str, end: str) -> search.Filters:
    agent_id = int(agent) if agent else None
    if agent_id is not None and not 1 <= agent_id < 2**31:
        raise search.SearchInvalid("坐席：编号无效")
    return search.Filters(channel=channel or None, agent_id=agent_id, queue=queue or None,
                          start=_day(start, "开始日期"), end=_day(end, "结束日期", end=True))  # fmt: skip


def _shown(principal: Principal, hit: search.Hit) -> search.Hit:
    if principal.can(Permission.CUSTOMERS_READ):
        return hit
    return search.Hit(**{**hit.__dict__, "contact": ""})


def _cell(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else "" if value is None else str(value)
    return (
        "'" + text if text.startswith(_FORMULA_START) else text
    )  # no formulas in a reader's sheet


@router.get("/conversations/search", include_in_schema=False)
async def search_page(
    request: Request, q: Text = "", channel: Code = "",
    agent: AgentId = "", queue: Code = "",
    start: DateText = "", end: DateText = "",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    principal: Principal = Depends(searchers), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    hits: list[search.Hit] = []
    more, error = False, None
    if q.strip():
        try:
            filters = _filters(channel, agent, queue, start, end)
            await search.catch_up(db)
            hits, more = await search.search(db, q, filters, page=page)
            await audit(db, actor=principal.name, action="conversations.search",
                        details={"q": mask_text(q), "channel": channel, "agent": agent,
                                 "queue": queue, "start": start, "end": end, "page": page,
                                 "results": len(hits)}, ip=client_ip(request))  # fmt: skip
            await db.commit()
        except search.SearchInvalid as exc:
            await db.rollback()
            error = str(exc)
    agents = (await db.execute(select(Agent.id, Agent.display_name).order_by(Agent.id))).all()
    return _pages().TemplateResponse(
        request, "conversations/search.html",
        {"principal": principal, "q": q, "channel": channel,
         "agent": int(agent) if agent else None, "queue": queue,
         "start": start, "end": end, "page": page, "hits": [_shown(principal, h) for h in hits],
         "more": more, "error": error, "agents": agents,
         "channels": ("sms", "wechat", "webchat", "weibo", "social")},
        status_code=422 if error else 200,
    )  # fmt: skip


@router.get("/conversations/search/export.{fmt}", include_in_schema=False)
async def export(
    request: Request, fmt: Annotated[Literal["csv", "xlsx", "pdf"], Path()], q: Text = "",
    channel: Code = "", agent: AgentId = "",
    queue: Code = "", start: DateText = "", end: DateText = "",
    principal: Principal = Depends(searchers), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    """The transcripts of the conversations the search finds (at most
    ``EXPORT_CONVERSATIONS``), masked, one row per message."""
    try:
        filters = _filters(channel, agent, queue, start, end)
        await search.catch_up(db)
        ids: list[int] = []
        page = 1
        while len(ids) < EXPORT_CONVERSATIONS:
            hits, more = await search.search(db, q, filters, page=page, page_size=500)
            ids += [h.conversation_id for h in hits if h.conversation_id not in ids]
            if not more:
                break
            page += 1
    except search.SearchInvalid as exc:
        return Response(f"无法导出：{exc}", status_code=422, media_type="text/plain; charset=utf-8")
    ids = ids[:EXPORT_CONVERSATIONS]
    rows = await search.transcripts(db, ids)
    await audit(db, actor=principal.name, action="conversations.export",
                details={"q": mask_text(q), "format": fmt, "conversations": len(ids),
                         "messages": len(rows), "channel": channel, "agent": agent,
                         "queue": queue, "start": start, "end": end},
                ip=client_ip(request))  # fmt: skip
    await db.commit()
    header = ["会话", "渠道", "发送方", "坐席", "时间", "内容"]
    if fmt == "csv":

        def lines() -> Iterator[bytes]:
            yield "\ufeff".encode()  # BOM: Excel then reads UTF-8
            for start_row in range(0, len(rows) + 1, 1000):
                buffer = io.StringIO()
                chunk = ([header] if start_row == 0 else []) + [
                    [_cell(v) for v in row] for row in rows[start_row : start_row + 1000]
                ]
                csv.writer(buffer, lineterminator="\r\n").writerows(chunk)
                yield buffer.getvalue().encode("utf-8")

        return StreamingResponse(
            lines(), media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="transcripts.csv"'},
        )  # fmt: skip
    if fmt == "pdf":
        from kefu.reports import pdf  # reportlab is loaded only by those who export

        content = await asyncio.to_thread(
            pdf.table_pdf, "会话记录", header, rows, widths=(1, 1, 1, 1.2, 1.6, 7),
            subtitle=f"检索：{mask_text(q)}；共 {len(ids)} 个会话，{len(rows)} 条消息（已脱敏）",
        )  # fmt: skip
        return Response(content, media_type=pdf.MEDIA_TYPE,
                        headers={"content-disposition": 'attachment; filename="transcripts.pdf"'})  # fmt: skip
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("会话记录")
    sheet.append(header)
    for row in rows:
        sheet.append([row[0], *(_cell(v) for v in row[1:])])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": 'attachment; filename="transcripts.xlsx"'},
    )
