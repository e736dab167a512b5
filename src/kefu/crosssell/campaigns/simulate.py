"""A simulated campaign with a planted true uplift, for the benchmark and the demo.

The customers and their holdings come from the bank port (the synthetic bank); the arms are
drawn exactly as a real start draws them (kefu.crosssell.campaigns.arms); who opens the product
afterwards is planted — a base rate per customer (higher for the product's planted affinity)
plus ``true_uplift`` for the treated — and handed back through the bank port's holdings, so
attribution and the report run the code a real campaign runs. No message is sent: treated
members are marked ``simulated`` (SMS) or, on WeChat, ``sent`` — or ``unreachable`` when the
planted share of customers with a bound openid (``reach``) leaves them out, and then the planted
uplift does not apply to them (they saw nothing).

A web chat banner campaign (``banner``) stays running: the treated members who opened the chat
in the days since the start (``reach``) were shown it in one to three visits, some clicked and
some said 不感兴趣 — impressions, clicks and declines as the widget records them — and the
others are still ``eligible``; openings are planted up to ``now``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import Holding
from kefu.bank.port import BankPort
from kefu.crosssell.campaigns import arms, service
from kefu.crosssell.campaigns import banner as banner_answers
from kefu.crosssell.campaigns.segment import Segment
from kefu.crosssell.models import BannerImpression, Campaign, CampaignMember


class OpeningBank:
    """The bank port, plus the products the simulation planted as opened after the start."""

    def __init__(self, bank: BankPort, product: tuple[str, str, str], opened: dict[str, date]):
        self.bank, self.product, self.opened = bank, product, opened

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bank, name)

    async def list_holdings(self, customer_no: str) -> list[Holding]:
        held = await self.bank.list_holdings(customer_no)
        if customer_no in self.opened:
            code, name, category = self.product
            held.append(Holding(customer_no=customer_no, product_code=code, product_name=name,
                                category=category, amount=Decimal("1000"),
                                since=self.opened[customer_no]))  # fmt: skip
        return held


@dataclass(frozen=True)
class Planted:
    base: Callable[[frozenset[str]], float]  # the chance to open anyway, from what is held
    true_uplift: float


async def run(
    db: AsyncSession,
    bank: BankPort,
    customers: Sequence[tuple[str, str]],
    planted: Planted,
    *,
    name: str,
    product_code: str,
    sub_code: str,
    started_at: datetime,
    seed: int = 42,
    holdout_share: float = 0.5,
    attribution_days: int = 30,
    channel: str = "sms",
    reach: float = 1.0,
    cost_per_message: float = 0.03,
) -> Campaign:
    """Creates the campaign, draws the arms, plants the openings and attributes them; the
    campaign is finished when this returns (the caller commits)."""
    campaign = await service.create(
        db, name=name, product_code=product_code, template_name="(simulated)", sub_code=sub_code,
        segment=Segment(not_holds=(product_code,)), actor="simulation", seed=seed,
        holdout_share=holdout_share, attribution_days=attribution_days,
        max_audience=max(1, len(customers)), channel=channel, cost_per_message=cost_per_message,
    )  # fmt: skip
    await db.execute(update(Campaign).where(Campaign.id == campaign.id)
                     .values(status="running", started_at=started_at)
                     .execution_options(synchronize_session=False))  # fmt: skip
    campaign.status, campaign.started_at = "running", started_at
    products = {p.code: p for p in await bank.list_products()}
    product = products[product_code]
    rng = np.random.default_rng(seed)
    opened: dict[str, date] = {}
    for customer_no, phone in customers:
        held = frozenset(h.product_code for h in await bank.list_holdings(customer_no))
        if product_code in held:
            continue  # the segment: not holding it yet
        arm, u = arms.arm(seed, customer_no, holdout_share)
        reached = arm == arms.TREATED and rng.random() < reach
        state = "held_out"
        if arm == arms.TREATED:
            state = ("sent" if channel == "wechat" else "simulated") if reached else "unreachable"
        db.add(CampaignMember(campaign_id=campaign.id, customer_no=customer_no, phone=phone,
                              arm=arm, draw=u, state=state,
                              refusal=None if reached or arm != arms.TREATED
                              else "未绑定微信，本渠道无法触达"))  # fmt: skip
        p = planted.base(held) + (planted.true_uplift if reached else 0.0)
        if rng.random() < p:
            opened[customer_no] = started_at.date() + timedelta(
                days=int(rng.integers(1, attribution_days + 1))
            )
    await db.flush()
    simulated = OpeningBank(bank, (product.code, product.name, product.category), opened)
    await service.attribute(db, simulated, campaign,
                            now=started_at + timedelta(days=attribution_days + 1))  # fmt: skip
    return campaign


@dataclass(frozen=True)
class BannerPlan:
    """What the simulated visitors did: the share of the treated who opened the chat, and of
    those shown the banner, who clicked it and who dismissed it (不感兴趣)."""

    reach: float = 0.45
    click: float = 0.12
    decline: float = 0.08


async def banner(
    db: AsyncSession,
    bank: BankPort,
    customers: Sequence[tuple[str, str]],
    planted: Planted,
    *,
    name: str,
    product_code: str,
    sub_code: str,
    content: str,
    started_at: datetime,
    now: datetime,
    plan: BannerPlan = BannerPlan(),
    seed: int = 42,
    holdout_share: float = 0.3,
    attribution_days: int = 30,
    not_yet_shown: frozenset[str] = frozenset(),
) -> Campaign:
    """A running web chat banner campaign started at ``started_at``, as seen at ``now``; the
    customers in ``not_yet_shown`` (the demo's web chat visitor) are left ``eligible`` when
    treated. The caller commits."""
    campaign = await service.create(
        db, name=name, product_code=product_code, template_name="(simulated)", sub_code=sub_code,
        segment=Segment(not_holds=(product_code,)), actor="simulation", seed=seed,
        holdout_share=holdout_share, attribution_days=attribution_days, channel="webchat",
        max_audience=max(1, len(customers)), cost_per_message=0.0,
    )  # fmt: skip
    await db.execute(update(Campaign).where(Campaign.id == campaign.id)
                     .values(status="running", started_at=started_at, content=content)
                     .execution_options(synchronize_session=False))  # fmt: skip
    campaign.status, campaign.started_at, campaign.content = "running", started_at, content
    product = {p.code: p for p in await bank.list_products()}[product_code]
    rng = np.random.default_rng(seed)
    days = max(1, (now - started_at).days)
    opened: dict[str, date] = {}
    for customer_no, phone in customers:
        held = frozenset(h.product_code for h in await bank.list_holdings(customer_no))
        if product_code in held:
            continue
        arm, u = arms.arm(seed, customer_no, holdout_share)
        member = CampaignMember(campaign_id=campaign.id, customer_no=customer_no, phone=phone,
                                arm=arm, draw=u, state="held_out")  # fmt: skip
        db.add(member)
        reached = (arm == arms.TREATED and customer_no not in not_yet_shown
                   and rng.random() < plan.reach)  # fmt: skip
        if arm == arms.TREATED:
            member.state = "eligible"
        if reached:
            await db.flush()
            visits = sorted(int(d) for d in rng.choice(days, size=min(days, int(rng.integers(1, 4))),
                                                       replace=False))  # fmt: skip
            for n, day in enumerate(visits):
                at = started_at + timedelta(days=day, hours=float(rng.uniform(8, 21)))
                db.add(BannerImpression(campaign_id=campaign.id, member_id=member.id,
                                        customer_no=customer_no, visit=f"sim-{member.id}-{n}",
                                        shown_at=at))  # fmt: skip
            first = started_at + timedelta(days=visits[0], hours=9)
            member.state, member.shown_at, member.address = "shown", first, f"sim-{member.id}-0"
            choice = rng.random()
            action = ("click" if choice < plan.click
                      else "dismiss" if choice < plan.click + plan.decline else None)  # fmt: skip
            if action is not None:
                # The real click's own function (kefu.crosssell.campaigns.banner.respond): the
                # member, the impression and the outcome in crosssell_outcomes, as the widget
                # records them (no hand-off: these visits are past).
                await db.flush()
                await banner_answers.respond(db, customer_no, member.address, str(campaign.id),
                                             action, now=first)  # fmt: skip
                await db.refresh(member)
        p = planted.base(held) + (planted.true_uplift if reached else 0.0)
        if rng.random() < p:
            opened[customer_no] = started_at.date() + timedelta(days=int(rng.integers(1, days + 1)))
    await db.flush()
    simulated = OpeningBank(bank, (product.code, product.name, product.category), opened)
    await service.attribute(db, simulated, campaign, now=now)
    return campaign
