"""The demo's phone simulator page: text the hall from the browser through a carrier simulator."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.numbers import is_mobile
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter(include_in_schema=False)


def _carriers(request: Request):  # type: ignore[no-untyped-def]
    carriers = getattr(request.app.state, "demo_carriers", None)
    if carriers is None:
        raise HTTPException(404, "the phone simulator runs only in the demo (kefu demo)")
    return carriers


async def _thread(db: AsyncSession, phone: str) -> list[SmsMessage]:
    rows = await db.scalars(
        select(SmsMessage).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc()).limit(30)
    )
    return list(reversed(rows.all()))


@router.get("/demo/phone")
async def phone_page(
    request: Request,
    phone: str = Query("", max_length=11),
    principal: Principal = Depends(require(Permission.HOME)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    from kefu.web.templating import templates

    carriers = _carriers(request)
    phone = phone if is_mobile(phone) else ""
    return templates.TemplateResponse(
        request,
        "sms/phone.html",
        {
            "principal": principal,
            "csrf": csrf_token(request),
            "phone": phone,
            "links": list(carriers.simulators),
            "thread": await _thread(db, phone) if phone else [],
            "suggested": getattr(request.app.state, "demo_phones", []),
        },
    )


@router.get("/demo/phone/thread")
async def phone_thread(
    request: Request,
    phone: str = Query(..., max_length=11),
    _: Principal = Depends(require(Permission.HOME)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    from kefu.web.templating import templates

    _carriers(request)
    if not is_mobile(phone):
        raise HTTPException(422, "phone: an 11-digit mainland mobile number")
    return templates.TemplateResponse(
        request, "sms/_thread.html", {"thread": await _thread(db, phone)}
    )


@router.post("/demo/phone")
async def phone_send(
    request: Request,
    phone: str = Form(..., max_length=11),
    text: str = Form(..., min_length=1, max_length=500),
    link: str = Form("demo-smpp"),
    csrf: str = Form(""),
    _: Principal = Depends(require(Permission.HOME)),
) -> Response:
    check_csrf(request, csrf)
    carriers = _carriers(request)
    if not is_mobile(phone):
        raise HTTPException(422, "phone: an 11-digit mainland mobile number")
    sim = carriers.simulators.get(link)
    if sim is None:
        raise HTTPException(422, f"link: one of {', '.join(carriers.simulators)}")
    await sim.inject_mo(phone, "95511", text)
    return RedirectResponse(f"/demo/phone?phone={phone}", status_code=303)
