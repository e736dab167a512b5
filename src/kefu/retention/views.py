"""Retention and privacy requests (``PRIVACY_MANAGE``: admins): the policies, a dry run or
a purge with its report, legal holds, and a customer's export (a JSON download) or erasure.
Every action is audited by kefu.retention.service."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics.retention import for_app as analytics_retention
from kefu.auth.permissions import Permission
from kefu.db.base import utcnow
from kefu.retention import service
from kefu.retention.models import LegalHold, PrivacyRequest
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter()
managers = require(Permission.PRIVACY_MANAGE)
HoldId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _pages() -> Any:
    from kefu.web.templating import templates  # the templates import the settings

    return templates


async def _page(
    request: Request, db: AsyncSession, principal: Principal, *,
    report: service.PurgeReport | None = None, error: str | None = None,
    done: PrivacyRequest | None = None, status: int = 200,
) -> Response:  # fmt: skip
    holds = (await db.scalars(select(LegalHold).order_by(LegalHold.id.desc()).limit(200))).all()
    requests = (
        await db.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id.desc()).limit(50))
    ).all()
    return _pages().TemplateResponse(
        request, "retention/privacy.html",
        {"principal": principal, "csrf": csrf_token(request), "policy": request.app.state
         .settings.retention, "holds": holds, "requests": requests, "report": report,
         "error": error, "done": done},
        status_code=status,
    )  # fmt: skip


@router.get("/privacy", include_in_schema=False)
async def privacy_page(
    request: Request, principal: Principal = Depends(managers),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    return await _page(request, db, principal)


@router.post("/privacy/purge", include_in_schema=False)
async def purge(
    request: Request, csrf: str = Form(""), mode: str = Form("dry", max_length=8),
    principal: Principal = Depends(managers), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    report = await service.purge(db, request.app.state.settings.retention, now=utcnow(),
                                 dry_run=mode != "run", actor=principal.name,
                                 analytics=analytics_retention(request.app))  # fmt: skip
    await db.commit()
    return await _page(request, db, principal, report=report)


@router.post("/privacy/holds", include_in_schema=False)
async def add_hold(
    request: Request, csrf: str = Form(""), customer: str = Form("", max_length=32),
    conversation: str = Form("", max_length=12), reason: str = Form("", max_length=500),
    principal: Principal = Depends(managers), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    try:
        conversation_id = int(conversation) if conversation.strip() else None
    except ValueError:
        conversation_id = -1
    try:
        if conversation_id is not None and conversation_id < 1:
            raise service.RetentionError("会话号应为正整数")
        await service.add_hold(db, bank_customer_no=customer, conversation_id=conversation_id,
                               reason=reason, actor=principal.name)  # fmt: skip
    except service.RetentionError as exc:
        await db.rollback()
        return await _page(request, db, principal, error=str(exc), status=exc.status)
    await db.commit()
    return RedirectResponse("/privacy", status_code=303)


@router.post("/privacy/holds/{hold_id}/release", include_in_schema=False)
async def release_hold(
    request: Request, hold_id: HoldId, csrf: str = Form(""),
    principal: Principal = Depends(managers), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    try:
        await service.release_hold(db, hold_id, actor=principal.name, now=utcnow())
    except service.RetentionError as exc:
        await db.rollback()
        return await _page(request, db, principal, error=str(exc), status=exc.status)
    await db.commit()
    return RedirectResponse("/privacy", status_code=303)


@router.post("/privacy/requests", include_in_schema=False)
async def customer_request(
    request: Request, csrf: str = Form(""), customer: str = Form("", max_length=32),
    kind: str = Form("", max_length=16), confirm: str = Form("", max_length=32),
    principal: Principal = Depends(managers), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    """``export``: the customer's data as a JSON download; ``erasure``: erased, once the
    customer number is typed again in ``confirm``."""
    check_csrf(request, csrf)
    try:
        if kind == "export":
            data = await service.export_customer(db, customer, actor=principal.name)
            await db.commit()
            return Response(
                json.dumps(data, ensure_ascii=False, indent=2),
                media_type="application/json; charset=utf-8",
                headers={"content-disposition":
                         f'attachment; filename="customer-{customer.strip()}.json"'},
            )  # fmt: skip
        if kind != "erasure":
            raise service.RetentionError("请选择导出或删除")
        if confirm.strip() != customer.strip() or not customer.strip():
            raise service.RetentionError("删除前请再次输入客户号以确认")
        done = await service.erase_customer(db, customer, actor=principal.name)
    except service.RetentionError as exc:
        await db.rollback()
        return await _page(request, db, principal, error=str(exc), status=exc.status)
    await db.commit()
    return await _page(request, db, principal, done=done)
