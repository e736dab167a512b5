"""Appointment pages: the customers' booking page (public: CSRF, phone-keyed, a few bookings per
address in ten minutes) and the kiosk's check-in (the kiosk signs in as a teller)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort
from kefu.branch import appointments, queue, remote
from kefu.branch.services import PRIORITY_LABELS, SERVICES
from kefu.branch.web import bank_branches, over_address_limit, templates
from kefu.db.base import utcnow
from kefu.privacy import mask_phone
from kefu.web.deps import (
    DB_SESSION,
    Principal,
    check_csrf,
    client_ip,
    csrf_token,
    get_bank,
    require,
)

router = APIRouter()
PHONE_LENGTH = 11
BOOK_LIMIT, BOOK_WINDOW = 5, 600.0


def _phone(value: str) -> str | None:
    value = value.strip()
    return value if len(value) == PHONE_LENGTH and value.isdigit() and value[0] == "1" else None


async def _page(
    request: Request, db: AsyncSession, bank: BankPort, *, branch: str | None, service: str,
    day: str | None, booked: object = None, cancelled: object = None, error: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    branches = await bank_branches(bank)
    branch = (
        branch if branch in {b.code for b in branches} else (branches[0].code if branches else None)
    )
    today = utcnow().astimezone(queue.LOCAL_ZONE).date()
    days = [(today + timedelta(days=i)).isoformat() for i in range(appointments.BOOK_DAYS_AHEAD)]
    day = day if day in days else days[0]
    service = service if service in SERVICES else "cash"
    now = utcnow()
    slots = [(s, left) for s, left in await appointments.slots(
                db, branch, service, day, await _capacity(request, db, branch))
             if appointments.slot_moment(day, s) > now] if branch else []  # fmt: skip
    return templates().TemplateResponse(
        request, "branch/appointments.html",
        {"principal": None, "branches": branches, "branch": branch, "services": SERVICES,
         "service": service, "days": days, "day": day, "slots": slots, "booked": booked,
         "cancelled": cancelled, "error": error, "csrf": csrf_token(request)},
        status_code=status,
    )  # fmt: skip


async def _capacity(request: Request, db: AsyncSession, branch: str) -> int:
    """The branch's places per slot (``/branch/manage``), else the setting."""
    default = request.app.state.settings.branch.appointment_slot_capacity
    return await appointments.slot_capacity(db, branch, default)


@router.get("/branch/appointments", include_in_schema=False)
async def appointments_page(
    request: Request,
    branch: Annotated[str | None, Query(max_length=16)] = None,
    service: Annotated[str, Query(max_length=16)] = "cash",
    day: Annotated[str | None, Query(max_length=10)] = None,
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    return await _page(request, db, bank, branch=branch, service=service, day=day)


@router.post("/branch/appointments", include_in_schema=False)
async def appointments_book(
    request: Request,
    branch: Annotated[str, Form(max_length=16)],
    service: Annotated[str, Form(max_length=16)],
    day: Annotated[str, Form(max_length=10)],
    start: Annotated[str, Form(max_length=5)],
    phone: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str | None, Form()] = None,
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    mobile = _phone(phone)
    args = {"branch": branch, "service": service, "day": day}
    if mobile is None:
        return await _page(request, db, bank, **args, error="请输入11位手机号码", status=422)
    if branch not in {b.code for b in await bank_branches(bank)} or service not in SERVICES:
        return await _page(request, db, bank, **args, error="请选择网点和业务", status=422)
    if await over_address_limit(
        request, "branch-booking", tries=BOOK_LIMIT, per_seconds=BOOK_WINDOW
    ):
        return await _page(request, db, bank, **args, error="操作过于频繁，请稍后再试", status=429)
    try:
        async with db.begin_nested():
            booked = await appointments.book(
                db, branch_code=branch, service_code=service, day=day, start=start, phone=mobile,
                capacity=await _capacity(request, db, branch),
            )  # fmt: skip
    except (queue.QueueError, ValueError) as exc:
        message = exc.message if isinstance(exc, queue.QueueError) else str(exc)
        return await _page(request, db, bank, **args, error=message, status=409)
    await record(db, actor=f"web:{mask_phone(mobile)}", action="branch.appointment.book",
                 target=f"{branch}/{service}/{day} {start}/{booked.code}", ip=client_ip(request))  # fmt: skip
    return await _page(request, db, bank, **args, booked=booked)


@router.post("/branch/appointments/cancel", include_in_schema=False)
async def appointments_cancel(
    request: Request,
    code: Annotated[str, Form(max_length=8)],
    phone: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str | None, Form()] = None,
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    mobile = _phone(phone) or ""
    if await over_address_limit(
        request, "branch-booking", tries=BOOK_LIMIT, per_seconds=BOOK_WINDOW
    ):
        return await _page(request, db, bank, branch=None, service="cash", day=None,
                           error="操作过于频繁，请稍后再试", status=429)  # fmt: skip
    try:
        async with db.begin_nested():
            cancelled = await appointments.cancel(db, code=code, phone=mobile)
    except queue.QueueError as exc:
        return await _page(request, db, bank, branch=None, service="cash", day=None,
                           error=exc.message, status=409)  # fmt: skip
    await record(db, actor=f"web:{mask_phone(mobile)}", action="branch.appointment.cancel",
                 target=cancelled.code, ip=client_ip(request))  # fmt: skip
    return await _page(request, db, bank, branch=cancelled.branch_code, service=cancelled.service,
                       day=cancelled.day, cancelled=cancelled)  # fmt: skip


@router.post("/branch/kiosk/{code}/checkin", include_in_schema=False)
async def kiosk_check_in(
    request: Request,
    code: str,
    phone: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """An appointment's ticket: appointment priority when on time, ordinary when late."""
    check_csrf(request, csrf)
    branch = next((b for b in await bank_branches(bank) if b.code == code), None)
    if branch is None:
        raise HTTPException(404, "没有这个网点")
    ticket, ahead, error, note = None, None, None, None
    try:
        async with db.begin_nested():
            ticket, on_time = await appointments.check_in(db, branch_code=code,
                                                          phone=_phone(phone) or "")  # fmt: skip
        ahead = await queue.ahead_of(db, ticket)
        note = "预约客户优先叫号" if on_time else "已超过预约时间15分钟，按普通号排队"
        await record(db, actor=principal.name, action="branch.appointment.checkin",
                     target=f"{code}/{ticket.label}", details={"on_time": on_time},
                     ip=client_ip(request))  # fmt: skip
        await remote.dispatch(db, code)  # a free VTM may take the customer at once
    except queue.QueueError as exc:
        error = exc.message
    return templates().TemplateResponse(
        request, "branch/kiosk.html",
        {"principal": principal, "branch": branch, "services": SERVICES,
         "priorities": PRIORITY_LABELS, "queues": await queue.service_queues(db, code),
         "ticket": ticket, "ahead": ahead, "error": error, "note": note,
         "csrf": csrf_token(request)},
        status_code=409 if error else 200,
    )  # fmt: skip
