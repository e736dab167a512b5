"""SMS templates (API and pages) and recorded consent (API).

Staff write and submit templates; a supervisor who did not write them approves or rejects.
A partner's key writes and submits its own templates through the same API and sees only the
templates it may send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.outbound import consent as consents
from kefu.outbound import templates
from kefu.outbound.models import Consent, SmsTemplate
from kefu.partners import service as partners
from kefu.partners.models import Partner
from kefu.vocabulary import Role
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require
from kefu.web.inputs import MobileNumber

router = APIRouter()
TemplateName = Annotated[str, Path(min_length=1, max_length=64)]
Kind = Literal["notification", "marketing", "otp"]


class TemplateIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=64)
    kind: Kind
    body: str = Field(min_length=1, max_length=500)
    partner: str | None = Field(default=None, max_length=64, description="Owner (a partner).")


class TemplateEdit(BaseModel):
    model_config = {"extra": "forbid"}

    body: str = Field(min_length=1, max_length=500)
    kind: Kind | None = None


class ReviewIn(BaseModel):
    model_config = {"extra": "forbid"}

    note: str = Field(default="", max_length=500)


class TemplateOut(BaseModel):
    name: str
    kind: str
    body: str
    variables: list[str]
    partner: str | None
    status: str
    created_by: str
    updated_by: str
    reviewed_by: str | None
    review_note: str | None
    created_at: datetime
    reviewed_at: datetime | None


async def _out(db: AsyncSession, t: SmsTemplate) -> TemplateOut:
    owner = await db.get(Partner, t.partner_id) if t.partner_id else None
    return TemplateOut(
        name=t.name, kind=t.kind, body=t.body, variables=templates.placeholders(t.body),
        partner=owner.name if owner else None, status=t.status, created_by=t.created_by,
        updated_by=t.updated_by, reviewed_by=t.reviewed_by, review_note=t.review_note,
        created_at=t.created_at, reviewed_at=t.reviewed_at,
    )  # fmt: skip


def _error(exc: ValueError) -> HTTPException:
    return HTTPException(getattr(exc, "status", 422), str(exc))


async def _own_partner(db: AsyncSession, principal: Principal) -> Partner | None:
    """The partner of a partner-role caller (which then sees only its templates)."""
    if principal.role != Role.PARTNER.value:
        return None
    partner = await partners.for_api_key(db, principal.id) if principal.kind == "apikey" else None
    if partner is None or partner.disabled_at is not None:
        raise HTTPException(403, "this key belongs to no active partner account")
    return partner


async def _visible(db: AsyncSession, principal: Principal, name: str) -> SmsTemplate:
    template = await templates.by_name(db, name)
    partner = await _own_partner(db, principal)
    # may_use covers the partner's own templates and the bank ones it was allowed.
    if (
        template is not None
        and partner is not None
        and not await partners.may_use(db, partner, template)
    ):
        template = None
    if template is None:
        raise HTTPException(404, f"no template called {name!r}")
    return template


async def _editable(db: AsyncSession, principal: Principal, name: str) -> SmsTemplate:
    template = await _visible(db, principal, name)
    partner = await _own_partner(db, principal)
    if partner is not None and template.partner_id != partner.id:
        raise HTTPException(403, "a partner edits only its own templates")
    return template


@router.get("/api/v1/sms/templates", tags=["sms"], summary="SMS templates")
async def list_templates(
    status: Annotated[Literal["draft", "pending", "approved", "rejected"] | None, Query()] = None,
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = DB_SESSION,
) -> list[TemplateOut]:
    partner = await _own_partner(db, principal)
    if partner is not None:
        rows = await partners.allowed_templates(db, partner)
    else:
        rows = list((await db.scalars(select(SmsTemplate).order_by(SmsTemplate.name))).all())
    return [await _out(db, t) for t in rows if status is None or t.status == status]


@router.get("/api/v1/sms/templates/{name}", tags=["sms"], summary="One SMS template")
async def get_template(
    name: TemplateName,
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = DB_SESSION,
) -> TemplateOut:
    return await _out(db, await _visible(db, principal, name))


@router.post("/api/v1/sms/templates", tags=["sms"], status_code=201, summary="Write a template")
async def create_template(
    body: TemplateIn,
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
) -> TemplateOut:
    partner = await _own_partner(db, principal)
    if partner is not None and body.partner not in (None, partner.name):
        raise HTTPException(403, "partner: a partner writes templates for itself only")
    if partner is None and body.partner is not None:
        try:
            partner = await partners.by_name(db, body.partner)
        except partners.PartnerError as exc:
            raise HTTPException(422, str(exc)) from None
    try:
        template = await templates.create(db, name=body.name, kind=body.kind, body=body.body,
                                          actor=principal.name,
                                          partner_id=partner.id if partner else None)  # fmt: skip
    except templates.TemplateError as exc:
        raise _error(exc) from None
    return await _out(db, template)


@router.put("/api/v1/sms/templates/{name}", tags=["sms"], summary="Edit a draft or rejected one")
async def edit_template(
    name: TemplateName,
    body: TemplateEdit,
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
) -> TemplateOut:
    template = await _editable(db, principal, name)
    try:
        await templates.edit(db, template, actor=principal.name, body=body.body, kind=body.kind)
    except templates.TemplateError as exc:
        raise _error(exc) from None
    return await _out(db, template)


@router.post("/api/v1/sms/templates/{name}/submit", tags=["sms"], summary="Ask for approval")
async def submit_template(
    name: TemplateName,
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
) -> TemplateOut:
    template = await _editable(db, principal, name)
    try:
        await templates.submit(db, template, actor=principal.name)
    except templates.TemplateError as exc:
        raise _error(exc) from None
    return await _out(db, template)


@router.post("/api/v1/sms/templates/{name}/{decision}", tags=["sms"], summary="Approve or reject")
async def review_template(
    name: TemplateName,
    decision: Literal["approve", "reject"],
    body: ReviewIn,
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_APPROVE)),
    db: AsyncSession = DB_SESSION,
) -> TemplateOut:
    template = await _visible(db, principal, name)
    try:
        await templates.review(db, template, actor=principal.name,
                               approve=decision == "approve", note=body.note)  # fmt: skip
    except templates.TemplateError as exc:
        raise _error(exc) from None
    return await _out(db, template)


# ----------------------------------------------------------------------------- pages
@router.get("/marketing/templates", include_in_schema=False)
async def templates_page(
    request: Request,
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
    error: str | None = None,
) -> Response:
    from kefu.web.templating import templates as pages

    rows = (await db.scalars(select(SmsTemplate).order_by(SmsTemplate.name))).all()
    owners = {p.id: p for p in (await db.scalars(select(Partner))).all()}
    return pages.TemplateResponse(
        request,
        "outbound/templates.html",
        {"principal": principal, "rows": rows, "owners": owners, "csrf": csrf_token(request),
         "error": error, "kinds": templates.KINDS},
    )  # fmt: skip


@router.post("/marketing/templates", include_in_schema=False)
async def templates_form(
    request: Request,
    name: str = Form(..., max_length=64),
    kind: str = Form(...),
    body: str = Form(..., max_length=500),
    partner: str = Form("", max_length=64),
    csrf: str = Form(""),
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        owner = await partners.by_name(db, partner) if partner.strip() else None
        template = await templates.create(db, name=name, kind=kind, body=body,
                                          actor=principal.name,
                                          partner_id=owner.id if owner else None)  # fmt: skip
    except (templates.TemplateError, partners.PartnerError) as exc:
        await db.rollback()
        return await templates_page(request, principal, db, error=str(exc))
    return RedirectResponse(f"/marketing/templates/{template.id}", status_code=303)


@router.get("/marketing/templates/{template_id}", include_in_schema=False)
async def template_page(
    request: Request,
    template_id: Annotated[int, Path(ge=1)],
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
    error: str | None = None,
) -> Response:
    from kefu.web.templating import templates as pages

    template = await db.get(SmsTemplate, template_id)
    if template is None:
        raise HTTPException(404, f"no template {template_id}")
    may_review = (
        principal.can(Permission.SMS_TEMPLATES_APPROVE)
        and template.status == "pending"
        and principal.name not in (template.created_by, template.updated_by)
    )
    return pages.TemplateResponse(
        request,
        "outbound/template.html",
        {"principal": principal, "t": template, "out": await _out(db, template),
         "csrf": csrf_token(request), "error": error, "may_review": may_review,
         "kinds": templates.KINDS},
    )  # fmt: skip


@router.post("/marketing/templates/{template_id}/{action}", include_in_schema=False)
async def template_action(
    request: Request,
    template_id: Annotated[int, Path(ge=1)],
    action: Literal["edit", "submit", "approve", "reject"],
    body: str = Form("", max_length=500),
    kind: str = Form(""),
    note: str = Form("", max_length=500),
    csrf: str = Form(""),
    principal: Principal = Depends(require(Permission.SMS_TEMPLATES_EDIT)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    template = await db.get(SmsTemplate, template_id)
    if template is None:
        raise HTTPException(404, f"no template {template_id}")
    try:
        if action == "edit":
            await templates.edit(db, template, actor=principal.name, body=body, kind=kind or None)
        elif action == "submit":
            await templates.submit(db, template, actor=principal.name)
        else:
            if not principal.can(Permission.SMS_TEMPLATES_APPROVE):
                raise HTTPException(403, f"role '{principal.role}' may not approve templates")
            await templates.review(db, template, actor=principal.name,
                                   approve=action == "approve", note=note)  # fmt: skip
    except templates.TemplateError as exc:
        await db.rollback()
        return await template_page(request, template_id, principal, db, error=str(exc))
    return RedirectResponse(f"/marketing/templates/{template_id}", status_code=303)


# ----------------------------------------------------------------------------- consent
Source = Literal["branch", "web", "app", "sms", "call", "wechat", "import", "api"]


class ConsentIn(BaseModel):
    model_config = {"extra": "forbid"}

    phone: MobileNumber
    source: Source
    kind: Literal["marketing", "notification"] = "marketing"
    evidence: str | None = Field(default=None, max_length=200)


class WithdrawIn(BaseModel):
    model_config = {"extra": "forbid"}

    phone: MobileNumber
    source: Source
    kind: Literal["marketing", "notification"] = "marketing"


class ConsentOut(BaseModel):
    id: int
    phone: str
    customer_id: int | None
    kind: str
    source: str
    evidence: str | None
    given_at: datetime
    recorded_by: str
    withdrawn_at: datetime | None
    withdrawn_source: str | None


def _consent_out(c: Consent) -> ConsentOut:
    return ConsentOut(
        id=c.id, phone=c.phone, customer_id=c.customer_id, kind=c.kind, source=c.source,
        evidence=c.evidence, given_at=c.given_at, recorded_by=c.recorded_by,
        withdrawn_at=c.withdrawn_at, withdrawn_source=c.withdrawn_source,
    )  # fmt: skip


@router.post(
    "/api/v1/marketing/consents", tags=["marketing"], status_code=201, summary="Record consent"
)
async def give_consent(
    body: ConsentIn,
    principal: Principal = Depends(require(Permission.CONSENT_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> ConsentOut:
    try:
        consent = await consents.give(db, phone=body.phone, source=body.source, kind=body.kind,
                                      evidence=body.evidence, actor=principal.name)  # fmt: skip
    except consents.ConsentError as exc:
        raise _error(exc) from None
    return _consent_out(consent)


@router.post("/api/v1/marketing/consents/withdraw", tags=["marketing"], summary="Withdraw consent")
async def withdraw_consent(
    body: WithdrawIn,
    principal: Principal = Depends(require(Permission.CONSENT_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> ConsentOut:
    try:
        consent = await consents.withdraw(db, phone=body.phone, source=body.source,
                                          kind=body.kind, actor=principal.name)  # fmt: skip
    except consents.ConsentError as exc:
        raise _error(exc) from None
    return _consent_out(consent)


@router.get("/api/v1/marketing/consents", tags=["marketing"], summary="Consent history")
async def consent_history(
    phone: Annotated[str, Query(min_length=1, max_length=21)],
    _: Principal = Depends(require(Permission.CONSENT_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> list[ConsentOut]:
    return [_consent_out(c) for c in await consents.history(db, phone)]
