"""Conversation workload per channel and status, as JSON and as a chart page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.web.deps import Principal, csrf_token, get_db, require
from kefu.web.i18n import gettext_

router = APIRouter()


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
    db: AsyncSession = Depends(get_db),
) -> WorkloadReport:
    return await workload(db, days)


@router.get("/reports", include_in_schema=False)
async def reports_page(
    request: Request,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = Depends(get_db),
) -> Response:
    from kefu.web.templating import templates

    report = await workload(db, 14)
    return templates.TemplateResponse(
        request,
        "reports/workload.html",
        {
            "principal": principal,
            "report": report.model_dump(),
            # Chart legends show channel and status names in the user's language.
            "labels": {key: gettext_(key) for key in [*report.by_channel, *report.by_status]},
            "csrf": csrf_token(request),
        },
    )
