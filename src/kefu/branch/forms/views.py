"""Form pages: the customer's (public: phone or tablet, no login, CSRF, a few forms per address
in ten minutes) and the teller's desk (retrieve by ID number + ticket, correct, sign, file).

Every access is audited: filling, each retrieval (refused ones with the reason and the tries
left), each opening of a retrieved form, completion (the corrected field names, never values).
A refusal is shown on the page it came from, with the entered values kept."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort
from kefu.branch import remote
from kefu.branch.forms import service
from kefu.branch.forms.crypto import FormCipher
from kefu.branch.forms.definitions import FormDefinition, definitions
from kefu.branch.forms.service import FormError, OpenedForm
from kefu.branch.models import BranchTicket
from kefu.branch.web import bank_branches, over_address_limit, templates
from kefu.privacy import mask_card, mask_id_number, mask_name, mask_phone
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
FILL_LIMIT, FILL_WINDOW = 5, 600.0  # forms per address per ten minutes


def form_cipher(request: Request) -> FormCipher:
    cached = getattr(request.app.state, "branch_form_cipher", None)
    if cached is None:
        settings = request.app.state.settings
        cached = FormCipher.from_settings(settings.branch, settings.secret_key)
        request.app.state.branch_form_cipher = cached
    return cached


def _definition(kind: str) -> FormDefinition:
    form = definitions().get(kind)
    if form is None:
        raise HTTPException(404, "没有这种表单")
    return form


def masked(form: FormDefinition, values: dict[str, str]) -> dict[str, str]:
    """What the desk shows of each value: personal ones masked by kind."""
    shown = {}
    for field in form.fields:
        value = values.get(field.name, "")
        if not value or not field.personal:
            shown[field.name] = field.choices.get(value, value)
        elif field.type == "id_number":
            shown[field.name] = mask_id_number(value)
        elif field.type == "card":
            shown[field.name] = mask_card(value)
        elif field.type == "mobile":
            shown[field.name] = mask_phone(value)
        elif field.name.endswith("name"):
            shown[field.name] = mask_name(value)
        else:
            shown[field.name] = value[:6] + "…" if len(value) > 6 else value
    return shown


# --- the customer's pages (public) -----------------------------------------------------------


@router.get("/branch/forms", include_in_schema=False)
async def forms_index(request: Request) -> Response:
    return templates().TemplateResponse(
        request, "branch/forms_index.html", {"principal": None, "forms": definitions()}
    )


async def _fill_page(
    request: Request, bank: BankPort, form: FormDefinition, *, values: dict[str, str],
    errors: dict[str, str], error: str | None, done: dict | None = None, status: int = 200,
) -> Response:  # fmt: skip
    return templates().TemplateResponse(
        request, "branch/form_fill.html",
        {"principal": None, "form": form, "branches": await bank_branches(bank), "values": values,
         "errors": errors, "error": error, "done": done, "csrf": csrf_token(request)},
        status_code=status,
    )  # fmt: skip


@router.get("/branch/forms/{kind}", include_in_schema=False)
async def fill_page(
    request: Request,
    kind: str,
    branch: Annotated[str | None, Query(max_length=16)] = None,
    bank: BankPort = Depends(get_bank),
) -> Response:
    form = _definition(kind)
    return await _fill_page(request, bank, form, values={"branch": branch or ""}, errors={},
                            error=None)  # fmt: skip


@router.post("/branch/forms/{kind}", include_in_schema=False)
async def fill_submit(
    request: Request,
    kind: str,
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The customer's form: the fields, ``branch`` and either ``ticket`` (a number already
    held today) or nothing (a remote ticket is taken for the form's service)."""
    form = _definition(kind)
    posted = await request.form()
    check_csrf(request, str(posted.get("csrf") or ""))
    raw = {k: str(v)[:500] for k, v in posted.items() if isinstance(v, str)}
    branch = raw.get("branch", "")
    label = raw.get("ticket", "").strip()[:8] or None
    keep = {k: v for k, v in raw.items() if k != "csrf"}
    if branch not in {b.code for b in await bank_branches(bank)}:
        return await _fill_page(request, bank, form, values=keep, errors={},
                                error="请选择办理网点", status=422)  # fmt: skip
    if await over_address_limit(request, "branch-form", tries=FILL_LIMIT, per_seconds=FILL_WINDOW):
        return await _fill_page(request, bank, form, values=keep, errors={},
                                error="提交过于频繁，请稍后再试", status=429)  # fmt: skip
    settings = request.app.state.settings.branch
    try:
        async with db.begin_nested():
            filled, ticket = await service.fill(
                db, form_cipher(request), kind=kind, raw=raw, branch_code=branch,
                ticket_label=label, ttl_hours=settings.form_ttl_hours,
            )  # fmt: skip
    except FormError as exc:
        status = 422 if exc.code == "invalid" else 409
        return await _fill_page(request, bank, form, values=keep, errors=exc.errors,
                                error=exc.message, status=status)  # fmt: skip
    await remote.dispatch(db, branch)  # a free VTM serving the form's service takes it
    await record(db, actor=f"web:{mask_phone(raw.get('mobile', ''))}", action="branch.form.fill",
                 target=f"{branch}/{ticket.label}/{filled.reference}",
                 details={"kind": kind}, ip=client_ip(request))  # fmt: skip
    done = {"reference": filled.reference, "ticket": ticket.label, "expires_at": filled.expires_at}
    return await _fill_page(request, bank, form, values={}, errors={}, error=None, done=done)


# --- the teller's desk -----------------------------------------------------------------------


async def _desk_page(
    request: Request, bank: BankPort, principal: Principal, branch: str | None, *,
    error: str | None = None, opened: OpenedForm | None = None, ticket: BranchTicket | None = None,
    errors: dict[str, str] | None = None, done: dict | None = None, status: int = 200,
) -> Response:  # fmt: skip
    branches = await bank_branches(bank)
    branch = branch or (branches[0].code if branches else None)
    return templates().TemplateResponse(
        request, "branch/form_desk.html",
        {"principal": principal, "branches": branches, "code": branch, "error": error,
         "opened": opened, "ticket": ticket, "errors": errors or {}, "done": done,
         "shown": masked(opened.definition, opened.values) if opened else {},
         "csrf": csrf_token(request)},
        status_code=status,
    )  # fmt: skip


@router.get("/branch/forms-desk", include_in_schema=False)
async def desk_page(
    request: Request,
    branch: Annotated[str | None, Query(max_length=16)] = None,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
) -> Response:
    return await _desk_page(request, bank, principal, branch)


@router.post("/branch/forms-desk/retrieve", include_in_schema=False)
async def desk_retrieve(
    request: Request,
    branch: Annotated[str, Form(max_length=16)],
    ticket: Annotated[str, Form(max_length=8)],
    id_number: Annotated[str, Form(max_length=30)],
    csrf: Annotated[str | None, Form()] = None,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    ip = client_ip(request)
    try:
        # No savepoint: a refused try must be counted and committed with the refusal.
        opened = await service.retrieve(
            db, form_cipher(request), branch_code=branch, ticket_label=ticket, id_number=id_number,
            teller=principal.name, max_tries=request.app.state.settings.branch.form_max_tries,
        )  # fmt: skip
    except FormError as exc:
        await record(db, actor=principal.name, action="branch.form.retrieve_refused",
                     target=f"{branch}/{ticket.strip().upper()}",
                     details={"reason": exc.code, "tries_left": exc.tries_left}, ip=ip)  # fmt: skip
        return await _desk_page(request, bank, principal, branch, error=exc.message, status=409)
    await record(db, actor=principal.name, action="branch.form.retrieve",
                 target=f"{branch}/{ticket.strip().upper()}/{opened.form.reference}", ip=ip)  # fmt: skip
    return RedirectResponse(f"/branch/forms-desk/{opened.form.reference}", 303)


@router.get("/branch/forms-desk/{reference}", include_in_schema=False)
async def desk_form(
    request: Request,
    reference: str,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    try:
        opened = await service.open_retrieved(db, form_cipher(request), reference=reference[:16],
                                              teller=principal.name)  # fmt: skip
    except FormError as exc:
        return await _desk_page(request, bank, principal, None, error=exc.message, status=409)
    await record(db, actor=principal.name, action="branch.form.view", target=reference[:16],
                 ip=client_ip(request))  # fmt: skip
    ticket = await db.get(BranchTicket, opened.form.ticket_id) if opened.form.ticket_id else None
    return await _desk_page(request, bank, principal, opened.form.branch_code, opened=opened,
                            ticket=ticket)  # fmt: skip


@router.post("/branch/forms-desk/{reference}/complete", include_in_schema=False)
async def desk_complete(
    request: Request,
    reference: str,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Corrections as ``fix_<field>`` (blank keeps the customer's value) and ``signature``
    (the pad's PNG data URL); nothing is changed unless the bank accepts."""
    posted = await request.form()
    check_csrf(request, str(posted.get("csrf") or ""))
    reference = reference[:16]
    corrections = {k[4:]: str(v)[:500] for k, v in posted.items()
                   if k.startswith("fix_") and isinstance(v, str)}  # fmt: skip
    signature = str(posted.get("signature") or "")
    cipher = form_cipher(request)
    try:
        async with db.begin_nested():
            form, receipt, changed = await service.complete(
                db, cipher, bank, reference=reference, teller=principal.name,
                corrections=corrections, signature=signature,
            )  # fmt: skip
    except FormError as exc:
        await record(db, actor=principal.name, action="branch.form.complete_refused",
                     target=reference, details={"reason": exc.code}, ip=client_ip(request))  # fmt: skip
        try:
            opened = await service.open_retrieved(db, cipher, reference=reference,
                                                  teller=principal.name)  # fmt: skip
        except FormError:
            opened = None
        return await _desk_page(request, bank, principal, None, error=exc.message, opened=opened,
                                errors=exc.errors, status=422 if exc.errors else 409)  # fmt: skip
    await record(db, actor=principal.name, action="branch.form.complete", target=reference,
                 details={"corrected": changed, "bank_reference": receipt.reference},
                 ip=client_ip(request))  # fmt: skip
    done = {"reference": form.reference, "bank_reference": receipt.reference}
    return await _desk_page(request, bank, principal, form.branch_code, done=done)
