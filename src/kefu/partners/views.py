"""Partner (CP) accounts for admins: API and pages, with usage and refusals per partner."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.config import Settings
from kefu.outbound import templates
from kefu.partners import service
from kefu.partners.models import Partner
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter()
manage = require(Permission.PARTNERS_MANAGE)
PartnerName = Annotated[str, Path(min_length=1, max_length=64)]


class TermsIn(BaseModel):
    model_config = {"extra": "forbid"}

    display_name: str = Field(min_length=1, max_length=64)
    ip_allow: list[str] = Field(default_factory=list, max_length=100)
    daily_quota: int = Field(default=10_000, ge=1, le=10_000_000)
    rate_per_second: float = Field(default=10.0, gt=0, le=10_000)
    burst: int = Field(default=100, ge=1, le=10_000)

    def terms(self) -> service.PartnerTerms:
        return service.PartnerTerms(self.display_name, self.ip_allow, self.daily_quota,
                                    self.rate_per_second, self.burst)  # fmt: skip


class PartnerIn(TermsIn):
    name: str = Field(min_length=1, max_length=48)
    sub_code: str = Field(min_length=1, max_length=8)


class PartnerOut(BaseModel):
    name: str
    display_name: str
    sub_code: str
    ip_allow: list[str]
    daily_quota: int
    rate_per_second: float
    burst: int
    enabled: bool
    keys: list[str]
    templates: list[str]
    created_at: datetime


class KeyCreated(BaseModel):
    name: str
    key: str = Field(description="Shown once; only a hash is stored.")


class UsageOut(BaseModel):
    partner: str
    sent_today: int
    sent_week: int
    refused_today: int
    refused_week: int
    by_day: dict[str, list[int]]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _error(exc: ValueError) -> HTTPException:
    return HTTPException(getattr(exc, "status", 422), str(exc))


async def _out(db: AsyncSession, p: Partner) -> PartnerOut:
    return PartnerOut(
        name=p.name, display_name=p.display_name, sub_code=p.sub_code, ip_allow=p.ip_allow,
        daily_quota=p.daily_quota, rate_per_second=p.rate_per_second, burst=p.burst,
        enabled=p.disabled_at is None,
        keys=[k.name for k in await service.keys(db, p) if k.revoked_at is None],
        templates=[t.name for t in await service.allowed_templates(db, p)],
        created_at=p.created_at,
    )  # fmt: skip


async def _partner(db: AsyncSession, name: str) -> Partner:
    try:
        return await service.by_name(db, name)
    except service.PartnerError as exc:
        raise _error(exc) from None


async def _create(
    db: AsyncSession,
    request: Request,
    name: str,
    sub_code: str,
    terms: service.PartnerTerms,
    actor: str,
) -> Partner:
    settings = _settings(request)
    return await service.create_partner(
        db, name=name, sub_code=sub_code, terms=terms, actor=actor,
        links=settings.sms_links, reserved_sub_codes=[r.sub_code for r in settings.sms_routes],
    )  # fmt: skip


@router.get("/api/v1/partners", tags=["partners"], summary="Partner (CP) accounts")
async def list_partners(
    _: Principal = Depends(manage), db: AsyncSession = DB_SESSION
) -> list[PartnerOut]:
    rows = (await db.scalars(select(Partner).order_by(Partner.name))).all()
    return [await _out(db, p) for p in rows]


@router.post("/api/v1/partners", tags=["partners"], status_code=201, summary="Add a partner")
async def add_partner(
    body: PartnerIn,
    request: Request,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> PartnerOut:
    try:
        partner = await _create(db, request, body.name, body.sub_code, body.terms(),
                                principal.name)  # fmt: skip
    except service.PartnerError as exc:
        raise _error(exc) from None
    return await _out(db, partner)


@router.put("/api/v1/partners/{name}", tags=["partners"], summary="Change a partner's terms")
async def change_partner(
    name: PartnerName,
    body: TermsIn,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> PartnerOut:
    partner = await _partner(db, name)
    try:
        await service.update_terms(db, partner, terms=body.terms(), actor=principal.name)
    except service.PartnerError as exc:
        raise _error(exc) from None
    return await _out(db, partner)


@router.post("/api/v1/partners/{name}/disable", tags=["partners"], summary="Disable")
async def disable_partner(
    name: PartnerName,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> PartnerOut:
    partner = await _partner(db, name)
    await service.set_enabled(db, partner, enabled=False, actor=principal.name)
    return await _out(db, partner)


@router.post("/api/v1/partners/{name}/enable", tags=["partners"], summary="Enable again")
async def enable_partner(
    name: PartnerName,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> PartnerOut:
    partner = await _partner(db, name)
    await service.set_enabled(db, partner, enabled=True, actor=principal.name)
    return await _out(db, partner)


@router.post("/api/v1/partners/{name}/keys", tags=["partners"], status_code=201,
             summary="A new API key for the partner")  # fmt: skip
async def add_key(
    name: PartnerName,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> KeyCreated:
    partner = await _partner(db, name)
    try:
        key, clear = await service.create_key(db, partner, actor=principal.name)
    except service.PartnerError as exc:  # its name is taken: a 409, was a 500
        raise _error(exc) from None
    return KeyCreated(name=key.name, key=clear)


@router.delete("/api/v1/partners/{name}/keys/{key}", tags=["partners"], status_code=204,
               summary="Revoke one of the partner's keys")  # fmt: skip
async def revoke_key(
    name: PartnerName,
    key: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> Response:
    partner = await _partner(db, name)
    try:
        await service.revoke_key(db, partner, key_name=key, actor=principal.name)
    except service.PartnerError as exc:
        raise _error(exc) from None
    return Response(status_code=204)


async def _allow(db: AsyncSession, name: str, template_name: str, allow: bool, actor: str) -> None:
    partner = await _partner(db, name)
    template = await templates.by_name(db, template_name)
    if template is None:
        raise HTTPException(404, f"template: no template called {template_name!r}")
    try:
        await service.allow_template(db, partner, template, allow=allow, actor=actor)
    except service.PartnerError as exc:
        raise _error(exc) from None


@router.put("/api/v1/partners/{name}/templates/{template}", tags=["partners"],
            summary="Let the partner send a bank template")  # fmt: skip
async def allow_template(
    name: PartnerName,
    template: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> PartnerOut:
    await _allow(db, name, template, True, principal.name)
    return await _out(db, await _partner(db, name))


@router.delete("/api/v1/partners/{name}/templates/{template}", tags=["partners"],
               summary="Take a bank template away from the partner")  # fmt: skip
async def disallow_template(
    name: PartnerName,
    template: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> PartnerOut:
    await _allow(db, name, template, False, principal.name)
    return await _out(db, await _partner(db, name))


@router.get("/api/v1/partners-usage", tags=["partners"], summary="Usage and refusals, 7 days")
async def usage_api(
    request: Request,
    _: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> list[UsageOut]:
    rows = (await db.scalars(select(Partner).order_by(Partner.name))).all()
    usage = await service.usage(db, rows, timezone=_settings(request).sms_policy.timezone)
    return [
        UsageOut(partner=u.partner.name, sent_today=u.sent_today, sent_week=u.sent_week,
                 refused_today=u.refused_today, refused_week=u.refused_week, by_day=u.by_day)
        for u in usage
    ]  # fmt: skip


# ----------------------------------------------------------------------------- pages
@router.get("/partners", include_in_schema=False)
async def partners_page(
    request: Request,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
    error: str | None = None,
) -> Response:
    from kefu.web.templating import templates as pages

    rows = (await db.scalars(select(Partner).order_by(Partner.name))).all()
    usage = await service.usage(db, rows, timezone=_settings(request).sms_policy.timezone)
    chart = {
        "days": list(usage[0].by_day) if usage else [],
        "series": {u.partner.display_name: [v[0] for v in u.by_day.values()] for u in usage},
        "refused": {u.partner.display_name: [v[1] for v in u.by_day.values()] for u in usage},
    }
    return pages.TemplateResponse(
        request,
        "partners/list.html",
        {"principal": principal, "usage": usage, "chart": chart, "csrf": csrf_token(request),
         "error": error},
    )  # fmt: skip


@router.post("/partners", include_in_schema=False)
async def partners_form(
    request: Request,
    name: str = Form(..., max_length=48),
    display_name: str = Form(..., max_length=64),
    sub_code: str = Form(..., max_length=8),
    ip_allow: str = Form("", max_length=4000),
    daily_quota: int = Form(10_000, ge=1, le=10_000_000),
    rate_per_second: float = Form(10.0, gt=0, le=10_000),
    burst: int = Form(100, ge=1, le=10_000),
    csrf: str = Form(""),
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    terms = service.PartnerTerms(display_name, ip_allow.replace(",", " ").split(), daily_quota,
                                 rate_per_second, burst)  # fmt: skip
    try:
        partner = await _create(db, request, name, sub_code, terms, principal.name)
    except service.PartnerError as exc:
        await db.rollback()
        return await partners_page(request, principal, db, error=str(exc))
    return RedirectResponse(f"/partners/{partner.name}", status_code=303)


@router.get("/partners/{name}", include_in_schema=False)
async def partner_page(
    request: Request,
    name: PartnerName,
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
    error: str | None = None,
    created_key: str | None = None,
) -> Response:
    from kefu.web.templating import templates as pages

    partner = await _partner(db, name)
    (usage,) = await service.usage(db, [partner], timezone=_settings(request).sms_policy.timezone)
    return pages.TemplateResponse(
        request,
        "partners/partner.html",
        {"principal": principal, "p": partner, "out": await _out(db, partner), "usage": usage,
         "keys": await service.keys(db, partner), "csrf": csrf_token(request), "error": error,
         "allowed": await service.allowed_templates(db, partner),
         "created_key": created_key},
    )  # fmt: skip


@router.post("/partners/{name}/{action}", include_in_schema=False)
async def partner_action(
    request: Request,
    name: PartnerName,
    action: str,
    display_name: str = Form("", max_length=64),
    ip_allow: str = Form("", max_length=4000),
    daily_quota: int = Form(1, ge=1, le=10_000_000),
    rate_per_second: float = Form(1.0, gt=0, le=10_000),
    burst: int = Form(1, ge=1, le=10_000),
    template: str = Form("", max_length=64),
    key: str = Form("", max_length=64),
    csrf: str = Form(""),
    principal: Principal = Depends(manage),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    partner = await _partner(db, name)
    actor = principal.name
    created_key = None
    try:
        if action == "terms":
            terms = service.PartnerTerms(display_name, ip_allow.replace(",", " ").split(),
                                         daily_quota, rate_per_second, burst)  # fmt: skip
            await service.update_terms(db, partner, terms=terms, actor=actor)
        elif action in ("enable", "disable"):
            await service.set_enabled(db, partner, enabled=action == "enable", actor=actor)
        elif action == "key":
            _key, created_key = await service.create_key(db, partner, actor=actor)
        elif action == "revoke":
            await service.revoke_key(db, partner, key_name=key, actor=actor)
        elif action in ("allow", "disallow"):
            await _allow(db, name, template, action == "allow", actor)
        else:
            raise HTTPException(404, f"no action {action!r}")
    except service.PartnerError as exc:
        await db.rollback()
        return await partner_page(request, name, principal, db, error=str(exc))
    if created_key:  # shown once, on this page, never in a URL
        return await partner_page(request, name, principal, db, created_key=created_key)
    return RedirectResponse(f"/partners/{name}", status_code=303)
