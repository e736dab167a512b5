"""Campaign pages under /crosssell/campaigns: supervisors (CAMPAIGNS_MANAGE) create, start
and attribute campaigns; analysts and supervisors (REPORTS_READ) read the list and reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from kefu.auth.permissions import Permission
from kefu.bank.port import BankPort
from kefu.crosssell.campaigns import service, wechat
from kefu.crosssell.campaigns.segment import BadSegment, Segment, analytics_members
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.models import Campaign
from kefu.outbound.models import SmsTemplate
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, get_bank, require

router = APIRouter(prefix="/crosssell/campaigns")
TIER_WORDS = {"standard": "普通", "gold": "金卡", "platinum": "白金", "private": "私人银行"}
STATUS_WORDS = {"draft": "草稿", "running": "进行中", "finished": "已结束"}


def _codes(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.replace("，", ",").split(",") if c.strip())


def _wechat(request: Request) -> Any:
    """The WeChat channel's outbound when that channel runs in this process (duck-typed:
    crosssell never imports a channel)."""
    return getattr(getattr(request.app.state, "wechat_runtime", None), "outbound", None)


def _sending(request: Request) -> service.Sending:
    return service.sending_for(request.app.state.settings, getattr(request.app.state, "sms", None),
                               _wechat(request))  # fmt: skip


async def _list(request: Request, principal: Principal, db: AsyncSession, *,
                error: str | None = None, status: int = 200) -> Response:  # fmt: skip
    from kefu.web.templating import templates

    campaigns = (await db.scalars(select(Campaign).order_by(Campaign.id.desc()))).all()
    approved = (await db.scalars(select(SmsTemplate.name).where(
        SmsTemplate.status == "approved", SmsTemplate.kind == "marketing",
        SmsTemplate.partner_id.is_(None)).order_by(SmsTemplate.name))).all()  # fmt: skip
    return templates.TemplateResponse(
        request, "crosssell/campaigns.html",
        {"campaigns": campaigns, "approved": approved, "products": sorted(TERMS),
         "tiers": TIER_WORDS, "statuses": STATUS_WORDS, "error": error,
         "can_manage": principal.can(Permission.CAMPAIGNS_MANAGE),
         "analytics": analytics_members() is not None, "csrf": csrf_token(request)},
        status_code=status,
    )  # fmt: skip


@router.get("", include_in_schema=False)
async def campaigns_page(
    request: Request,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    return await _list(request, principal, db)


@router.post("", include_in_schema=False)
async def create_campaign(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    product_code: Annotated[str, Form(max_length=16)],
    template_name: Annotated[str, Form(max_length=64)],
    sub_code: Annotated[str, Form(max_length=8)],
    channel: Annotated[str, Form(max_length=16)] = "sms",
    age_min: Annotated[int | None, Form(ge=18, le=120)] = None,
    age_max: Annotated[int | None, Form(ge=18, le=120)] = None,
    tiers: Annotated[list[str] | None, Form()] = None,
    holds: Annotated[str, Form(max_length=200)] = "",
    not_holds: Annotated[str, Form(max_length=200)] = "",
    cities: Annotated[str, Form(max_length=200)] = "",
    min_score: Annotated[float | None, Form(ge=0, le=1)] = None,
    analytics_segment: Annotated[int | None, Form(ge=1)] = None,
    holdout_share: Annotated[float, Form(gt=0, lt=1)] = 0.2,
    seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    attribution_days: Annotated[int, Form(ge=1, le=365)] = 30,
    cost_per_message: Annotated[float, Form(ge=0, le=10)] = 0.03,
    max_audience: Annotated[int, Form(ge=1, le=1_000_000)] = 5000,
    scheduled_for: Annotated[str, Form(max_length=32)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    principal: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        when = datetime.fromisoformat(scheduled_for).replace(tzinfo=UTC) if scheduled_for else None
    except ValueError:
        return await _list(request, principal, db, error="计划时间格式不对", status=422)
    segment = Segment(age_min=age_min, age_max=age_max, tiers=tuple(tiers or ()),
                      holds=_codes(holds), not_holds=_codes(not_holds), cities=_codes(cities),
                      min_score=min_score, analytics_segment=analytics_segment)  # fmt: skip
    try:
        campaign = await service.create(
            db, name=name, product_code=product_code, template_name=template_name,
            sub_code=sub_code, segment=segment, actor=principal.name, channel=channel,
            holdout_share=holdout_share, seed=seed, attribution_days=attribution_days,
            cost_per_message=cost_per_message, max_audience=max_audience, scheduled_for=when,
            reserved_sub_codes=_sending(request).reserved_sub_codes,
        )  # fmt: skip
    except (service.CampaignRefused, BadSegment) as exc:
        await db.rollback()
        reason, status = (exc.reason, exc.status) if isinstance(exc, service.CampaignRefused) \
            else (str(exc), 422)  # fmt: skip
        return await _list(request, principal, db, error=reason, status=status)
    await db.commit()
    return RedirectResponse(f"/crosssell/campaigns/{campaign.id}", 303)


async def _detail(request: Request, principal: Principal, db: AsyncSession, campaign_id: int,
                  *, notice: str | None = None, error: str | None = None,
                  status: int = 200) -> Response:  # fmt: skip
    from kefu.web.templating import templates

    campaign = await db.get(Campaign, campaign_id)
    if campaign is None:
        return Response("没有该活动", 404, media_type="text/plain; charset=utf-8")
    rep = await service.campaign_report(db, campaign)
    return templates.TemplateResponse(
        request, "crosssell/campaign.html",
        {"c": campaign, "r": rep, "segment": Segment.from_json(campaign.segment),
         "statuses": STATUS_WORDS, "tiers": TIER_WORDS, "notice": notice,
         "error": error or campaign.last_refusal,
         "can_manage": principal.can(Permission.CAMPAIGNS_MANAGE), "csrf": csrf_token(request)},
        status_code=status,
    )  # fmt: skip


@router.get("/{campaign_id}", include_in_schema=False)
async def campaign_page(
    request: Request,
    campaign_id: int,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    return await _detail(request, principal, db, campaign_id)


@router.post("/{campaign_id}/start", include_in_schema=False)
async def start_campaign(
    request: Request,
    campaign_id: int,
    csrf: Annotated[str, Form(max_length=128)] = "",
    principal: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    check_csrf(request, csrf)
    try:
        started = await service.start(db, bank, campaign_id, _sending(request),
                                      actor=principal.name)  # fmt: skip
    except service.CampaignRefused as exc:
        await db.rollback()
        if exc.status != 404:
            await service.note_refusal(db, campaign_id, exc.reason)
            await db.commit()
        return await _detail(request, principal, db, campaign_id, error=exc.reason,
                             status=exc.status)  # fmt: skip
    await db.commit()
    wake = getattr(getattr(getattr(request.app.state, "sms", None), "outbox", None), "wake", None)
    if wake is not None:
        wake.set()  # committed: the SMS sender may claim them now
    refused = "，".join(f"{rule} {n} 人" for rule, n in started.refused.items())
    notice = (f"已开始：发送组 {started.treated} 人，对照组 {started.holdout} 人，"
              + (f"待展示网页横幅 {started.queued} 人" if started.channel == "webchat"
                 else f"已排队 {started.queued} 条") + (f"；外发规则未发送：{refused}" if refused else "")
              + (f"；本渠道无法触达 {started.unreachable} 人" if started.unreachable else ""))  # fmt: skip
    response = await _detail(request, principal, db, campaign_id, notice=notice)
    sender = _wechat(request)
    if sender is not None and started.queued:
        # After the answer: WeChat template sends go one by one; the scheduler's loop picks up
        # whatever this leaves queued (a restart, quiet hours).
        response.background = BackgroundTask(
            wechat.send_queued, request.app.state.sessionmaker, sender,
            request.app.state.settings.sms_policy, campaign_id=campaign_id,
        )  # fmt: skip
    return response


@router.post("/{campaign_id}/attribute", include_in_schema=False)
async def attribute_campaign(
    request: Request,
    campaign_id: int,
    csrf: Annotated[str, Form(max_length=128)] = "",
    principal: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
    db: AsyncSession = DB_SESSION,
    bank: BankPort = Depends(get_bank),
) -> Response:
    check_csrf(request, csrf)
    campaign = await db.get(Campaign, campaign_id)
    if campaign is None or campaign.started_at is None:
        return await _detail(request, principal, db, campaign_id, error="活动尚未开始", status=409)
    converted = await service.attribute(db, bank, campaign)
    await db.commit()
    return await _detail(request, principal, db, campaign_id,
                         notice=f"已按银行持仓更新转化：{converted} 人")  # fmt: skip
