"""Campaigns: create, start (with the refusals), the sends through the governed outbound,
and attribution of the product opened within the window.

The per-recipient caps (daily, weekly) are counted under the send API's lock
(``kefu.outbound.api.take_send_lock``), so racing starts and API sends cannot exceed them.

Starting is race-safe: the campaign is claimed with ``UPDATE … WHERE status = 'draft'`` in the
transaction that writes its members and queues its messages; a second start (another click,
another worker) updates no row and is refused, on PostgreSQL after waiting for the first
transaction's row lock, on SQLite behind its one writer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.bank.port import BankError, BankPort
from kefu.crosssell.campaigns import arms, report
from kefu.crosssell.campaigns import wechat as by_wechat
from kefu.crosssell.campaigns.segment import Audience, BadSegment, Segment, build
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.models import CHANNELS, BannerImpression, Campaign, CampaignMember
from kefu.db.base import utcnow
from kefu.outbound import policy as rules
from kefu.outbound import templates
from kefu.outbound.api import take_send_lock
from kefu.outbound.settings import SmsPolicySettings
from kefu.partners.models import Partner

NAME = re.compile(r"^[\w\u4e00-\u9fff（）() .-]{1,64}$")
SUB_CODE = re.compile(r"^\d{1,8}$")
MARKETING = "marketing"
PRODUCT_VARIABLE = "product"  # the one placeholder a campaign fills: the product's name


class CampaignRefused(Exception):  # noqa: N818 - a refusal with a reason for the page
    def __init__(self, reason: str, status: int = 409) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class Outbox(Protocol):
    """The SMS gateway's outbox, as the app holds it (``app.state.sms``)."""

    links: Mapping[str, Any]

    async def enqueue(self, db: AsyncSession, **message: Any) -> Any: ...


@dataclass
class Sending:
    """What a start needs from the running app."""

    outbox: Outbox | None
    policy: SmsPolicySettings
    signature: str = ""
    reserved_sub_codes: frozenset[str] = frozenset()  # the hall's business routes
    models: Any | None = None  # for a segment with a score floor
    wechat: by_wechat.WechatSender | None = None  # the WeChat channel's outbound, when it runs


def sending_for(settings: Any, outbox: Outbox | None, wechat_outbound: Any = None) -> Sending:
    """What a start needs, from the app's settings, its SMS outbox and the WeChat channel's
    outbound (None: not configured)."""
    from kefu.crosssell.service import model_state

    return Sending(
        outbox=outbox, policy=settings.sms_policy,
        signature=getattr(outbox, "signature", "") if outbox is not None else "",
        reserved_sub_codes=frozenset(r.sub_code for r in settings.sms_routes),
        models=model_state().models, wechat=wechat_outbound,
    )  # fmt: skip


@dataclass
class Started:
    treated: int
    holdout: int
    queued: int
    refused: dict[str, int] = field(default_factory=dict)  # outbound rule → customers
    unreachable: int = 0  # treated members the channel cannot reach (WeChat: no openid)
    channel: str = "sms"  # web chat: ``queued`` counts members eligible for the banner


async def create(
    db: AsyncSession,
    *,
    name: str,
    product_code: str,
    template_name: str,
    sub_code: str,
    segment: Segment,
    actor: str,
    channel: str = "sms",
    holdout_share: float = 0.2,
    seed: int = 0,
    attribution_days: int = 30,
    cost_per_message: float = 0.03,
    value_per_conversion: float | None = None,
    max_audience: int = 5000,
    scheduled_for: datetime | None = None,
    reserved_sub_codes: frozenset[str] = frozenset(),
) -> Campaign:
    """Validates and stores a draft; CampaignRefused (422/409) naming what is wrong."""
    name = name.strip()
    if not NAME.match(name):
        raise CampaignRefused(
            "活动名称须为 1–64 个字符（汉字、字母、数字、空格、括号、点、横线）", 422
        )
    if product_code not in TERMS:
        raise CampaignRefused(f"产品 {product_code} 没有销售条款，不能推广", 422)
    if channel not in CHANNELS:
        raise CampaignRefused(f"渠道须为 {'、'.join(CHANNELS)} 之一", 422)
    if not SUB_CODE.match(sub_code):
        raise CampaignRefused("短信子号须为 1–8 位数字", 422)
    if not 0 < holdout_share < 1:
        raise CampaignRefused("对照组比例须在 0 和 1 之间", 422)
    if not 1 <= attribution_days <= 365:
        raise CampaignRefused("转化归因天数须在 1 到 365 之间", 422)
    if cost_per_message < 0 or max_audience < 1:
        raise CampaignRefused("单条成本不能为负，人数上限至少为 1", 422)
    segment.check()
    if sub_code in reserved_sub_codes:
        raise CampaignRefused(f"子号 {sub_code} 是营业厅的业务路由", 409)
    if await db.scalar(select(Partner.id).where(Partner.sub_code == sub_code)):
        raise CampaignRefused(f"子号 {sub_code} 已分配给合作方", 409)
    value = TERMS[product_code].margin if value_per_conversion is None else value_per_conversion
    campaign = Campaign(
        name=name, product_code=product_code, channel=channel, template_name=template_name,
        sub_code=sub_code, segment=segment.to_json(), holdout_share=holdout_share, seed=seed,
        attribution_days=attribution_days, cost_per_message=cost_per_message,
        value_per_conversion=value, max_audience=max_audience, scheduled_for=scheduled_for,
        status="draft", created_by=actor,
    )  # fmt: skip
    try:
        async with db.begin_nested():
            db.add(campaign)
    except IntegrityError:
        raise CampaignRefused(f"活动名称「{name}」或子号 {sub_code} 已被其他活动使用") from None
    await record(db, actor=actor, action="crosssell.campaign.created",
                 target=f"campaign:{campaign.id}", details={"name": name, "sub_code": sub_code})  # fmt: skip
    return campaign


async def _template_text(
    db: AsyncSession, campaign: Campaign, product_name: str
) -> tuple[Any, str]:
    template = await templates.by_name(db, campaign.template_name)
    if template is None:
        raise CampaignRefused(f"没有名为 {campaign.template_name} 的短信模板")
    if template.status != "approved":
        raise CampaignRefused(
            f"短信模板 {template.name} 尚未审批通过（当前：{template.status}），不能发送"
        )
    if template.kind != MARKETING:
        raise CampaignRefused(f"短信模板 {template.name} 不是营销类模板")
    if template.partner_id is not None:
        raise CampaignRefused(f"短信模板 {template.name} 属于合作方")
    wanted = templates.placeholders(template.body)
    if set(wanted) - {PRODUCT_VARIABLE}:
        raise CampaignRefused(f"模板含活动无法填写的变量（只可用 {{{PRODUCT_VARIABLE}}}）")
    variables = {PRODUCT_VARIABLE: product_name} if wanted else {}
    return template, templates.render(template.body, variables)


async def start(
    db: AsyncSession,
    bank: BankPort,
    campaign_id: int,
    sending: Sending,
    *,
    actor: str,
    now: datetime | None = None,
) -> Started:
    """Checks, draws the arms, queues the treated arm's messages and claims the campaign, in
    the caller's transaction (the caller commits; on CampaignRefused it rolls back)."""
    now = now or utcnow()
    campaign = await db.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignRefused("没有该活动", 404)
    if campaign.status != "draft":
        raise CampaignRefused("活动已经开始过，不能再次开始")
    if campaign.scheduled_for is not None and now < campaign.scheduled_for:
        raise CampaignRefused(
            f"活动计划于 {campaign.scheduled_for:%Y-%m-%d %H:%M} UTC 开始，未到时间"
        )
    account = None
    if campaign.channel == "wechat":
        account, why = by_wechat.account_for(sending.wechat)
        if account is None:
            raise CampaignRefused(why or "", 503)
    elif campaign.channel == "sms" and sending.outbox is None:
        raise CampaignRefused("没有配置短信通道（KEFU_SMS_LINKS），无法发送", 503)
    if campaign.sub_code in sending.reserved_sub_codes:
        raise CampaignRefused(f"子号 {campaign.sub_code} 是营业厅的业务路由")
    products = {p.code: p for p in await bank.list_products()}
    product = products.get(campaign.product_code)
    if product is None:
        raise CampaignRefused(f"银行产品目录中没有 {campaign.product_code}")
    template, text = await _template_text(db, campaign, product.name)
    # A banner is shown only inside a chat the customer opened: no quiet hours for it.
    quiet = rules.quiet_hours_refusal(MARKETING, sending.policy, now)
    if quiet is not None and campaign.channel != "webchat":
        raise CampaignRefused(f"免打扰时段，营销短信不发送：{quiet.reason}")
    try:
        audience = await build(db, bank, Segment.from_json(campaign.segment),
                               product_code=campaign.product_code, models=sending.models,
                               today=now.date())  # fmt: skip
    except BadSegment as exc:
        raise CampaignRefused(f"客户细分无法使用：{exc}") from None
    if not audience.members:
        raise CampaignRefused("客户细分为空，没有可发送的客户" + _skipped(audience))
    drawn = [(c, *arms.arm(campaign.seed, c.customer_no, campaign.holdout_share))
             for c in audience.members]  # fmt: skip
    treated = [(c, u) for c, a, u in drawn if a == arms.TREATED]
    if len(treated) > campaign.max_audience:
        raise CampaignRefused(f"发送人数 {len(treated)} 超过本活动上限 {campaign.max_audience}")
    # The per-recipient caps are counted from the outbox: under the send API's lock (held to
    # the commit), so a start and API sends (or two starts) cannot both count below a cap.
    await take_send_lock(db)
    # TD by SMS and recorded consent hold on every channel; the SMS caps count SMS only, a
    # WeChat campaign's caps count its own messages (wechat.refusals).
    decision = await rules.decide(db, recipients=[c.phone for c, _ in treated], kind=MARKETING,
                                  text=text, policy=_policy_for(campaign.channel, sending.policy),
                                  signature=sending.signature, template=template,
                                  free_text=False, now=now,
                                  count_caps=campaign.channel == "sms")  # fmt: skip
    if isinstance(decision, rules.Refusal):
        raise CampaignRefused(f"外发规则拒绝（{decision.rule}）：{decision.reason}")
    reach: dict[str, str] = {}
    refused_here: dict[str, str] = {}
    if campaign.channel == "wechat":
        reach = await by_wechat.openids(db, [c.customer_no for c, _ in treated])
        refused_here = await by_wechat.refusals(db, reach, sending.policy, now)
    claimed = await db.execute(
        update(Campaign).where(Campaign.id == campaign.id, Campaign.status == "draft")
        .values(status="running", started_at=now, last_refusal=None, content=text)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise CampaignRefused("活动已经开始过，不能再次开始")
    service_number = None
    if sending.outbox is not None:
        link = next(iter(sending.outbox.links.values()), None)
        service_number = (link.service_number + campaign.sub_code) if link is not None else None
    result = Started(
        treated=len(treated), holdout=len(drawn) - len(treated), queued=0, channel=campaign.channel
    )
    for candidate, arm, u in drawn:
        member = CampaignMember(campaign_id=campaign.id, customer_no=candidate.customer_no,
                                phone=candidate.phone, arm=arm, draw=u, state="held_out")  # fmt: skip
        if arm == arms.TREATED:
            refusal = decision.refused.get(candidate.phone)
            openid = reach.get(candidate.customer_no)
            if campaign.channel == "wechat" and openid is None:
                member.state, member.refusal = "unreachable", "未绑定微信，本渠道无法触达"
                result.unreachable += 1
            elif refusal is not None:
                member.state, member.refusal = "refused", f"{refusal.rule}: {refusal.reason}"[:200]
                result.refused[refusal.rule] = result.refused.get(refusal.rule, 0) + 1
            elif candidate.customer_no in refused_here:
                member.state = "refused"
                member.refusal = refused_here[candidate.customer_no]
                rule = member.refusal.split(":", 1)[0]
                result.refused[rule] = result.refused.get(rule, 0) + 1
            elif campaign.channel == "wechat":
                member.state, member.address = "queued", f"{account}:{openid}"
                result.queued += 1
            elif campaign.channel == "webchat":
                # Shown when they open the web chat widget (campaigns/banner.py), within caps.
                member.state = "eligible"
                result.queued += 1
            else:
                assert sending.outbox is not None
                await sending.outbox.enqueue(
                    db, to=candidate.phone, text=decision.text, kind=MARKETING,
                    idempotency_key=f"campaign:{campaign.id}:{candidate.customer_no}",
                    service_number=service_number,
                )  # fmt: skip
                member.state = "queued"
                result.queued += 1
        db.add(member)
    await record(db, actor=actor, action="crosssell.campaign.started",
                 target=f"campaign:{campaign.id}",
                 details={"treated": result.treated, "holdout": result.holdout,
                          "queued": result.queued, "refused": result.refused,
                          "unreachable": result.unreachable})  # fmt: skip
    return result


def _policy_for(channel: str, policy: SmsPolicySettings) -> SmsPolicySettings:
    """The outbound rules at start: a banner is not a send at an hour of ours, so marketing's
    send hours do not apply to it; every per-recipient rule does."""
    if channel != "webchat" or MARKETING not in policy.send_hours:
        return policy
    hours = {k: v for k, v in policy.send_hours.items() if k != MARKETING}
    return policy.model_copy(update={"send_hours": hours})


def _skipped(audience: Audience) -> str:
    if not audience.skipped:
        return "（没有绑定手机号的已知客户）"
    return "（" + "，".join(f"{why} {n} 人" for why, n in audience.skipped.items()) + "）"


async def note_refusal(db: AsyncSession, campaign_id: int, reason: str) -> None:
    """Keeps the last refusal on the campaign, in a transaction of its own (the start's was
    rolled back), so the page shows why it did not start."""
    await db.execute(update(Campaign).where(Campaign.id == campaign_id)
                     .values(last_refusal=reason[:300]))  # fmt: skip


async def attribute(
    db: AsyncSession, bank: BankPort, campaign: Campaign, *, now: datetime | None = None
) -> int:
    """Marks the members (both arms) who opened the product within ``attribution_days`` of
    the start, from the bank port's holdings; returns how many are converted. Finishes the
    campaign once the window is over."""
    if campaign.started_at is None:
        return 0
    now = now or utcnow()
    first = campaign.started_at.date()
    last = first + timedelta(days=campaign.attribution_days)
    members = (await db.scalars(select(CampaignMember).where(
        CampaignMember.campaign_id == campaign.id))).all()  # fmt: skip
    for member in members:
        try:
            holdings = await bank.list_holdings(member.customer_no)
        except BankError:
            continue  # read again on the next run
        opened = [h.since for h in holdings
                  if h.product_code == campaign.product_code and first <= h.since <= last]  # fmt: skip
        member.converted_on = min(opened) if opened else None
    if now.date() > last and campaign.status == "running":
        campaign.status, campaign.finished_at = "finished", now
    return sum(1 for m in members if m.converted_on is not None)


@dataclass(frozen=True)
class BannerFigures:
    """A web chat banner campaign's reach: showings (one per visit), the members who clicked
    (interest, once each) and who dismissed it (不感兴趣)."""

    impressions: int
    shown_to: int  # members shown it at least once
    clicks: int
    declines: int

    @property
    def click_rate(self) -> float:
        return self.clicks / self.shown_to if self.shown_to else 0.0


@dataclass
class Report:
    campaign: Campaign
    result: report.Uplift | None
    money: report.Money
    replies: dict[str, int]
    states: dict[str, int]
    banner: BannerFigures | None = None


async def campaign_report(db: AsyncSession, campaign: Campaign) -> Report:
    rows = (await db.execute(
        select(CampaignMember.arm, CampaignMember.state, CampaignMember.reply,
               CampaignMember.converted_on.is_not(None), func.count())
        .where(CampaignMember.campaign_id == campaign.id)
        .group_by(CampaignMember.arm, CampaignMember.state, CampaignMember.reply,
                  CampaignMember.converted_on.is_not(None))
    )).all()  # fmt: skip
    n = {arms.TREATED: 0, arms.HOLDOUT: 0}
    converted = {arms.TREATED: 0, arms.HOLDOUT: 0}
    replies: dict[str, int] = {}
    states: dict[str, int] = {}
    messages = 0
    for arm, state, reply, was_converted, count in rows:
        # Intention to treat: every treated member counts, sent or refused by a rule.
        n[arm] += count
        converted[arm] += count if was_converted else 0
        states[state] = states.get(state, 0) + count
        if reply:
            replies[reply] = replies.get(reply, 0) + count
        if state in ("queued", "sending", "sent", "simulated"):
            messages += count
    result = report.uplift(n[arms.TREATED], converted[arms.TREATED],
                           n[arms.HOLDOUT], converted[arms.HOLDOUT])  # fmt: skip
    banner = await _banner_figures(db, campaign) if campaign.channel == "webchat" else None
    if banner is not None:
        messages = banner.impressions  # a banner's cost, if any, is per showing
    money = report.money(result, messages, campaign.cost_per_message,
                         campaign.value_per_conversion)  # fmt: skip
    return Report(campaign, result, money, replies, states, banner)


async def _banner_figures(db: AsyncSession, campaign: Campaign) -> BannerFigures:
    impressions = await db.scalar(select(func.count(BannerImpression.id))
                                  .where(BannerImpression.campaign_id == campaign.id))  # fmt: skip
    shown_to, clicks, declines = (await db.execute(
        select(func.count(CampaignMember.shown_at), func.count(CampaignMember.clicked_at),
               func.sum(case((CampaignMember.reply == "declined", 1), else_=0)))
        .where(CampaignMember.campaign_id == campaign.id)
    )).one()  # fmt: skip
    return BannerFigures(int(impressions or 0), int(shown_to or 0), int(clicks or 0),
                         int(declines or 0))  # fmt: skip
