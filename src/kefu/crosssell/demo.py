"""The demo's risk assessments and (simulated) campaigns: car insurance by SMS and accident
insurance by WeChat template message (about 60 % of customers have bound WeChat), finished;
a one-year deposit on the web chat banner, running (the demo's web chat visitor sees it).

The first demo customers have a risk assessment (levels C1–C5 in turn, assessed a month ago),
so the demo's next best offers include wealth and fund products where suitable — and show
them refused where not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankPort
from kefu.bank.synthetic.generator import customer_no
from kefu.crosssell.campaigns import arms, simulate
from kefu.crosssell.models import Campaign, RiskAssessment
from kefu.outbound import consent

DEMO_ASSESSED = 20  # customers C0000000001..C0000000020; the rest have none (no wealth offer)


async def ensure_demo_assessments(session: AsyncSession, today: date | None = None) -> None:
    assessed_on = (today or date.today()) - timedelta(days=30)
    for index in range(DEMO_ASSESSED):
        no = customer_no(index)
        if await session.get(RiskAssessment, no) is None:
            session.add(
                RiskAssessment(customer_no=no, level=index % 5 + 1, assessed_on=assessed_on)
            )


DEMO_CAMPAIGN = "车险交叉销售（模拟）"
DEMO_CUSTOMERS = 200  # the first customers of the synthetic bank: ~1 s once, then found


async def ensure_demo_campaign(session: AsyncSession, bank: BankPort) -> None:
    """One finished campaign with its report: car insurance to customers without it, half
    held out, a planted true uplift of 5 points (kefu.crosssell.campaigns.simulate)."""
    if not await session.scalar(select(Campaign.id).where(Campaign.name == DEMO_CAMPAIGN)):
        planted = simulate.Planted(base=lambda held: 0.10 if "LOAN-CAR" in held else 0.02,
                                   true_uplift=0.05)  # fmt: skip
        await simulate.run(session, bank, await _demo_customers(bank), planted,
                           name=DEMO_CAMPAIGN, product_code="INS-CAR", sub_code="9901",
                           started_at=datetime.now(UTC) - timedelta(days=45))  # fmt: skip
    # Also where the SMS campaign came from an earlier demo database.
    await ensure_demo_wechat_campaign(session, bank)
    await ensure_demo_banner_campaign(session, bank)


async def _demo_customers(bank: BankPort) -> list[tuple[str, str]]:
    """The demo campaigns' members; no phone: a simulated member is never texted, so never
    replies."""
    return [(customer_no(i), "") for i in range(min(DEMO_CUSTOMERS, await bank.count_customers()))]


DEMO_WECHAT_CAMPAIGN = "意外险微信推荐（模拟）"
WECHAT_REACH = 0.6  # share of customers with a bound openid: the rest are not reachable


async def ensure_demo_wechat_campaign(session: AsyncSession, bank: BankPort) -> None:
    """A finished WeChat template campaign: accident insurance to customers without it, 30 %
    held out, 60 % of the treated reachable on WeChat, a planted true uplift of 4 points for
    those reached. WeChat template messages cost nothing per message: no ROI is shown."""
    if await session.scalar(select(Campaign.id).where(Campaign.name == DEMO_WECHAT_CAMPAIGN)):
        return
    customers = await _demo_customers(bank)
    planted = simulate.Planted(base=lambda held: 0.05 if "LOAN-CAR" in held else 0.02,
                               true_uplift=0.04)  # fmt: skip
    await simulate.run(session, bank, customers, planted, name=DEMO_WECHAT_CAMPAIGN,
                       product_code="INS-ACC", sub_code="9902", channel="wechat",
                       reach=WECHAT_REACH, holdout_share=0.3, cost_per_message=0.0,
                       started_at=datetime.now(UTC) - timedelta(days=40))  # fmt: skip


DEMO_BANNER_CAMPAIGN = "一年定存网页横幅（在线客服）"
DEMO_BANNER_PRODUCT = "DEP1Y"
DEMO_BANNER_VISITOR = customer_no(0)  # the customer /demo/webchat signs in (the first bound)
BANNER_TEXT = "{product}：利率高于活期，一年内不用的资金放心存，手机银行即可办理。"


async def ensure_demo_banner_campaign(session: AsyncSession, bank: BankPort) -> None:
    """A running web chat banner campaign, started 12 days ago: 30 % held out, 45 % of the
    treated opened the chat since and were shown the banner (12 % of them clicked, 8 % said 不感兴趣),
    a planted true uplift of 3 points for those shown. The demo's web chat visitor is in the
    treated arm, not shown yet, with recorded marketing consent: /demo/webchat shows them it."""
    if await session.scalar(select(Campaign.id).where(Campaign.name == DEMO_BANNER_CAMPAIGN)):
        return
    customers = await _demo_customers(bank)
    visitor = await bank.get_customer(DEMO_BANNER_VISITOR)
    # The visitor's real mobile, so the banner's contact policy (TD, consent) is checked on it.
    customers = [(no, visitor.mobile if no == DEMO_BANNER_VISITOR else phone)
                 for no, phone in customers]  # fmt: skip
    if not await consent.consenting(session, [visitor.mobile], "marketing"):
        await consent.give(session, phone=visitor.mobile, source="branch", actor="demo")
    seed = next(s for s in range(42, 1000)
                if arms.arm(s, DEMO_BANNER_VISITOR, 0.3)[0] == arms.TREATED)  # fmt: skip
    product = {p.code: p for p in await bank.list_products()}[DEMO_BANNER_PRODUCT]
    now = datetime.now(UTC)
    planted = simulate.Planted(base=lambda held: 0.06 if "DEP3M" in held else 0.03,
                               true_uplift=0.03)  # fmt: skip
    await simulate.banner(session, bank, customers, planted, name=DEMO_BANNER_CAMPAIGN,
                          product_code=DEMO_BANNER_PRODUCT, sub_code="9903",
                          content=BANNER_TEXT.format(product=product.name),
                          started_at=now - timedelta(days=12), now=now, seed=seed,
                          not_yet_shown=frozenset({DEMO_BANNER_VISITOR}))  # fmt: skip
