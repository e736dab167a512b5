"""Branch pages: the branch list (everyone), the teller's counter, the kiosk, the display
board (live by SSE, called tickets read out in Mandarin by the browser), the manager's view,
and the customers' map (public) with remote tickets.

Every state change goes through ``kefu.branch.queue``; a refusal (``QueueError``) is shown on
the page it came from, with the reason in words, and changes nothing."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.bank.models import Branch
from kefu.bank.port import BankPort
from kefu.branch import appointments, queue, remote
from kefu.branch import notices as notices_
from kefu.branch.appointment_views import router as appointments_router
from kefu.branch.forms.views import router as forms_router
from kefu.branch.h5_views import router as h5_router
from kefu.branch.models import REMOTE_KINDS, BranchCounter, BranchTicket
from kefu.branch.remote_views import router as remote_router
from kefu.branch.services import PRIORITY_LABELS, SERVICES
from kefu.branch.waits import branch_waits
from kefu.branch.web import bank_branches, over_address_limit, templates
from kefu.channels.webchat.tokens import SessionTokens, TokenError
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
from kefu.web.live import marker_events

router = APIRouter()
PHONE = re.compile(r"^1[3-9]\d{9}$")
ACTIONS = ("call", "recall", "no-show", "park", "open", "pause", "close")
# Remote tickets from the public map: per address, at most this many in the window (one
# customer one open ticket is the queue's own rule; this stops one address trying numbers).
REMOTE_LIMIT, REMOTE_WINDOW = 5, 600.0


async def _branch(bank: BankPort, code: str) -> Branch:
    for b in await bank_branches(bank):
        if b.code == code:
            return b
    raise HTTPException(404, "没有这个网点")


@router.get("/api/v1/branches", tags=["branches"], summary="Branches, optionally of one city")
async def branches_api(
    city: Annotated[str | None, Query(max_length=16)] = None,
    _: Principal = Depends(require(Permission.BRANCHES_READ)),
    bank: BankPort = Depends(get_bank),
) -> list[Branch]:
    return await bank_branches(bank, city)


# --- the counter -------------------------------------------------------------------------


async def _counter_page(
    request: Request, db: AsyncSession, bank: BankPort, principal: Principal,
    code: str | None, counter_id: int | None, error: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    branches = await bank_branches(bank)
    code = code or (branches[0].code if branches else None)
    counters = list(await db.scalars(
        select(BranchCounter).where(BranchCounter.branch_code == code).order_by(BranchCounter.number)
    )) if code else []  # fmt: skip
    counter = next((c for c in counters if c.id == counter_id), counters[0] if counters else None)
    current = await db.get(BranchTicket, counter.current_ticket_id) if counter and counter.current_ticket_id else None  # fmt: skip
    parked = list(await db.scalars(
        select(BranchTicket).where(BranchTicket.state == "parked", BranchTicket.parked_by == counter.id)
    )) if counter else []  # fmt: skip
    queues = await queue.service_queues(db, code) if code else {}
    return templates().TemplateResponse(
        request, "branch/counter.html",
        {"principal": principal, "branches": branches, "code": code, "counters": counters,
         "counter": counter, "current": current, "parked": parked, "queues": queues,
         "services": SERVICES, "priorities": PRIORITY_LABELS, "error": error,
         "csrf": csrf_token(request)},
        status_code=status,
    )  # fmt: skip


@router.get("/branch/counter", include_in_schema=False)
async def counter_page(
    request: Request,
    branch: Annotated[str | None, Query(max_length=16)] = None,
    counter: Annotated[int | None, Query(ge=1)] = None,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    return await _counter_page(request, db, bank, principal, branch, counter)


async def _send_notices(
    request: Request, db: AsyncSession, bank: BankPort, code: str,
    notices: list[tuple[BranchTicket, int]],
) -> list[notices_.AfterCommit]:  # fmt: skip
    """ "Notify me when 3 ahead" on each ticket's own channel (kefu.branch.notices)."""
    if not notices:
        return []
    name = (await _branch(bank, code)).name
    return await notices_.send(request.app.state, db, name, notices)


@router.post("/branch/counter/{counter_id}/{action}", include_in_schema=False)
async def counter_action(
    request: Request,
    counter_id: int,
    action: str,
    csrf: Annotated[str | None, Form()] = None,
    service: Annotated[str | None, Form(max_length=16)] = None,
    ticket: Annotated[int | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """call, recall, no-show, park, open, pause, close; transfer (service=…); resume (ticket=…)."""
    check_csrf(request, csrf)
    row = await db.get(BranchCounter, counter_id)
    if row is None:
        raise HTTPException(404, "没有这个窗口")
    code = row.branch_code
    after: list[notices_.AfterCommit] = []
    try:
        async with db.begin_nested():
            if action == "call":
                if row.kind in REMOTE_KINDS:
                    raise queue.QueueError(
                        "remote", f"{row.number}号是远程柜员窗口，由远程柜员接待，不在柜台叫号"
                    )
                await queue.call_next(db, counter_id=counter_id)
                after = await _send_notices(request, db, bank, code,
                                            await queue.due_notices(db, code))  # fmt: skip
            elif action == "recall":
                await queue.recall(db, counter_id=counter_id)
            elif action == "no-show":
                await queue.no_show(db, counter_id=counter_id)
            elif action == "park":
                await queue.park(db, counter_id=counter_id)
            elif action in ("open", "pause", "close"):
                state = {"open": "open", "pause": "paused", "close": "closed"}[action]
                teller = principal.display_name if state != "closed" else None
                await queue.set_counter_state(db, counter_id=counter_id, state=state, teller=teller)
                if state == "open" and row.kind in REMOTE_KINDS:
                    await remote.dispatch(db, code)  # the machine takes its first customer
            elif action == "transfer":
                await queue.transfer(db, counter_id=counter_id, service_code=service or "")
            elif action == "resume":
                await queue.resume(db, counter_id=counter_id, ticket_id=ticket or 0)
            else:
                raise HTTPException(404, "unknown action")
    except (queue.QueueError, ValueError) as exc:
        message = exc.message if isinstance(exc, queue.QueueError) else str(exc)
        return await _counter_page(request, db, bank, principal, code, counter_id, message, 409)
    await record(db, actor=principal.name, action=f"branch.counter.{action}",
                 target=f"{code}/{row.number}", ip=client_ip(request))  # fmt: skip
    if after:  # WeChat sends write their own rows: after this transaction, never inside it
        await db.commit()
        for send in after:
            await send()
    return RedirectResponse(f"/branch/counter?branch={code}&counter={counter_id}", 303)


# --- kiosk and display board ---------------------------------------------------------------


@router.get("/branch/kiosk/{code}", include_in_schema=False)
async def kiosk_page(
    request: Request,
    code: str,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    branch = await _branch(bank, code)
    return templates().TemplateResponse(
        request, "branch/kiosk.html",
        {"principal": principal, "branch": branch, "services": SERVICES,
         "priorities": PRIORITY_LABELS, "queues": await queue.service_queues(db, code),
         "ticket": None, "ahead": None, "error": None, "csrf": csrf_token(request)},
    )  # fmt: skip


@router.post("/branch/kiosk/{code}", include_in_schema=False)
async def kiosk_take(
    request: Request,
    code: str,
    service: Annotated[str, Form(max_length=16)],
    priority: Annotated[str, Form(max_length=16)] = "normal",
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    branch = await _branch(bank, code)
    ticket, ahead, error = None, None, None
    try:
        async with db.begin_nested():
            ticket = await queue.take_ticket(db, branch_code=code, service_code=service,
                                             priority_kind=priority, source="kiosk")  # fmt: skip
        ahead = await queue.ahead_of(db, ticket)
        await remote.dispatch(db, code)
    except (queue.QueueError, ValueError) as exc:
        error = exc.message if isinstance(exc, queue.QueueError) else str(exc)
    return templates().TemplateResponse(
        request, "branch/kiosk.html",
        {"principal": principal, "branch": branch, "services": SERVICES,
         "priorities": PRIORITY_LABELS, "queues": await queue.service_queues(db, code),
         "ticket": ticket, "ahead": ahead, "error": error, "csrf": csrf_token(request)},
        status_code=409 if error else 200,
    )  # fmt: skip


@router.get("/branch/board/{code}", include_in_schema=False)
async def board_page(
    request: Request,
    code: str,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    branch = await _branch(bank, code)
    called = await queue.recently_called(db, code)
    return templates().TemplateResponse(
        request, "branch/board.html",
        {"principal": principal, "branch": branch, "called": called, "services": SERVICES,
         "queues": await queue.service_queues(db, code)},
    )  # fmt: skip


@router.get("/branch/board/{code}/events", include_in_schema=False)
async def board_events(
    request: Request,
    code: str,
    max_seconds: Annotated[float, Query(ge=0.5, le=3600)] = 300,
    _: Principal = Depends(require(Permission.BRANCH_COUNTER)),
) -> StreamingResponse:
    """'changed' whenever a ticket is taken or called or a counter changes: the board, the
    counter and the manager's pages reload."""

    async def marker(req: Request) -> Any:
        async with req.app.state.sessionmaker() as db:
            return await queue.marker(db, code)

    return marker_events(request, marker, poll_seconds=1.0, max_seconds=max_seconds)


# --- the manager ----------------------------------------------------------------------------


@router.get("/branch/manage", include_in_schema=False)
async def manage_page(
    request: Request,
    principal: Principal = Depends(require(Permission.BRANCH_MANAGE)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    now = utcnow()
    default_slots = request.app.state.settings.branch.appointment_slot_capacity
    rows = []
    for b in await bank_branches(bank):
        queues = await queue.service_queues(db, b.code, now)
        threshold = await queue.alert_seconds(db, b.code)
        counters = list(await db.scalars(select(BranchCounter).where(
            BranchCounter.branch_code == b.code).order_by(BranchCounter.number)))  # fmt: skip
        alerts = [q for q in queues.values() if q.oldest_wait > threshold]
        slots = await appointments.slot_capacity(db, b.code, default_slots)
        rows.append({"branch": b, "queues": queues, "threshold": threshold,
                     "counters": counters, "alerts": alerts, "slots": slots})  # fmt: skip
    return templates().TemplateResponse(
        request, "branch/manage.html",
        {"principal": principal, "rows": rows, "services": SERVICES, "csrf": csrf_token(request)},
    )  # fmt: skip


@router.post("/branch/manage/{code}/counters", include_in_schema=False)
async def manage_add_counter(
    request: Request,
    code: str,
    number: Annotated[int, Form(ge=1, le=99)],
    services: Annotated[str, Form(max_length=80)],
    kind: Annotated[str, Form(max_length=16)] = "teller",
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_MANAGE)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """A counter with its work profile: service codes in order, comma-separated; ``kind`` vtm
    or hybrid makes it a remote teller's (and adds routing's remote-teller queue if absent)."""
    check_csrf(request, csrf)
    await _branch(bank, code)
    profile = [s.strip() for s in services.replace("，", ",").split(",") if s.strip()]
    try:
        async with db.begin_nested():
            await queue.add_counter(db, branch_code=code, number=number, services=profile,
                                    kind=kind)  # fmt: skip
            if kind in REMOTE_KINDS:
                await remote.ensure_routing(db, actor=principal.name)
    except (queue.QueueError, ValueError) as exc:
        raise HTTPException(
            409, exc.message if isinstance(exc, queue.QueueError) else str(exc)
        ) from None
    await record(db, actor=principal.name, action="branch.counter.add", target=f"{code}/{number}",
                 details={"services": profile, "kind": kind}, ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/branch/manage", 303)


@router.post("/branch/manage/{code}/threshold", include_in_schema=False)
async def manage_threshold(
    request: Request,
    code: str,
    minutes: Annotated[int, Form(ge=1, le=240)],
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_MANAGE)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    await _branch(bank, code)
    await queue.set_alert_seconds(db, branch_code=code, seconds=minutes * 60)
    await record(db, actor=principal.name, action="branch.threshold", target=code,
                 details={"minutes": minutes}, ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/branch/manage", 303)


@router.post("/branch/manage/{code}/slots", include_in_schema=False)
async def manage_slot_capacity(
    request: Request,
    code: str,
    capacity: Annotated[int, Form(ge=1, le=100)],
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_MANAGE)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Appointment places per half-hour slot at this branch (from today on; never fewer than
    a slot has booked already)."""
    check_csrf(request, csrf)
    await _branch(bank, code)
    await appointments.set_slot_capacity(db, branch_code=code, capacity=capacity)
    await record(db, actor=principal.name, action="branch.slot_capacity", target=code,
                 details={"capacity": capacity}, ip=client_ip(request))  # fmt: skip
    return RedirectResponse("/branch/manage", 303)


# --- the customers' map (public) -------------------------------------------------------------


def _chat_session(request: Request, chat: str | None, site: str | None) -> str | None:
    """The web chat session a map link from the chat widget carries (its signed session
    token and site), or None: a ticket taken with it is told "3 ahead" in that chat."""
    channel = getattr(request.app.state, "webchat", None)
    config = channel.sites.get(site or "") if channel is not None and chat else None
    if config is None or not chat:
        return None
    try:
        tokens = SessionTokens(request.app.state.settings.session_secret)
        return tokens.verify(chat, site=config).session
    except TokenError:
        return None


@router.get("/branch/map", include_in_schema=False)
async def map_page(
    request: Request,
    chat: Annotated[str | None, Query(max_length=400)] = None,
    site: Annotated[str | None, Query(max_length=32)] = None,
    bank: BankPort = Depends(get_bank),
) -> Response:
    """``chat`` + ``site``: opened from the web chat widget (notices go to that chat)."""
    branches = await bank_branches(bank)
    in_chat = _chat_session(request, chat, site) is not None
    return templates().TemplateResponse(
        request, "branch/map.html",
        {"principal": None, "branches": branches, "services": SERVICES, "result": None,
         "error": None, "csrf": csrf_token(request),
         "chat": {"token": chat, "site": site} if in_chat else None},
    )  # fmt: skip


@router.get("/branch/map/waits", include_in_schema=False)
async def map_waits(
    service: Annotated[str, Query(max_length=16)] = "cash",
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    city: Annotated[str | None, Query(max_length=16)] = None,
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> JSONResponse:
    """Each branch's predicted wait for a new ticket of ``service``, its colour, distance."""
    if service not in SERVICES:
        raise HTTPException(422, f"unknown service {service!r}")
    near = (lat, lon) if lat is not None and lon is not None else None
    waits = await branch_waits(db, await bank_branches(bank, city), service, near=near)
    return JSONResponse([
        {"code": w.branch.code, "name": w.branch.name, "address": w.branch.address,
         "latitude": w.branch.latitude, "longitude": w.branch.longitude,
         "opening_hours": w.branch.opening_hours, "waiting": w.waiting, "counters": w.counters,
         "wait_minutes": None if w.wait_seconds is None else round(w.wait_seconds / 60),
         "band": w.band, "method": w.method,
         "distance_km": None if w.distance_km is None else round(w.distance_km, 1)}
        for w in waits
    ])  # fmt: skip


@router.post("/branch/map/ticket", include_in_schema=False)
async def map_ticket(
    request: Request,
    branch: Annotated[str, Form(max_length=16)],
    service: Annotated[str, Form(max_length=16)],
    phone: Annotated[str, Form(max_length=20)] = "",
    notify: Annotated[bool, Form()] = False,
    chat: Annotated[str | None, Form(max_length=400)] = None,
    site: Annotated[str | None, Form(max_length=32)] = None,
    csrf: Annotated[str | None, Form()] = None,
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """A remote ticket: one open ticket per phone number (or web chat session) a day, a few
    tries per address."""
    check_csrf(request, csrf)
    branches = await bank_branches(bank)
    result, error, status = None, None, 200
    phone = phone.strip()
    session_id = _chat_session(request, chat, site)
    customer_key = notices_.webchat_key(session_id) if session_id else f"phone:{phone}"
    if chat and session_id is None:
        error, status = "聊天会话已失效，请回到在线客服重新打开", 422
    elif session_id is None and not PHONE.match(phone):
        error, status = "请输入11位手机号码", 422
    elif branch not in {b.code for b in branches}:
        error, status = "没有这个网点", 404
    elif await over_address_limit(
        request, "branch-ticket", tries=REMOTE_LIMIT, per_seconds=REMOTE_WINDOW
    ):
        error, status = "取号过于频繁，请稍后再试", 429
    else:
        try:
            async with db.begin_nested():
                ticket = await queue.take_ticket(
                    db, branch_code=branch, service_code=service,
                    source="chat" if session_id else "web", customer_key=customer_key,
                    notify_ahead=3 if notify else None,
                )  # fmt: skip
            who = "web chat" if session_id else mask_phone(phone)
            result = {"ticket": ticket, "ahead": await queue.ahead_of(db, ticket), "phone": who}
            await remote.dispatch(db, branch)
            await record(db, actor=f"web:{who}", action="branch.ticket.remote",
                         target=f"{branch}/{ticket.label}", ip=client_ip(request))  # fmt: skip
        except (queue.QueueError, ValueError) as exc:
            error = exc.message if isinstance(exc, queue.QueueError) else str(exc)
            status = 409
    return templates().TemplateResponse(
        request, "branch/map.html",
        {"principal": None, "branches": branches, "services": SERVICES, "result": result,
         "error": error, "csrf": csrf_token(request),
         "chat": {"token": chat, "site": site} if session_id else None},
        status_code=status,
    )  # fmt: skip


# Paperless forms: the customer's pages and the teller's desk (kefu.branch.forms.views).
router.include_router(forms_router)
# Appointments: the customers' booking page and the kiosk's check-in.
router.include_router(appointments_router)
# VTM and hybrid counters: the remote agent's session page.
router.include_router(remote_router)
# The WeChat hall's H5 queue page (under the hall's path, for its session cookie).
router.include_router(h5_router)
