"""A campaign's segment: filters on the bank's data (age band, tier, products held and not
held, city), a propensity floor, or the members of a saved analytics segment.

The universe is the customers kefu knows with a bound mobile number (a campaign reaches people
by SMS or WeChat, so a customer with no address is not in any audience)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankError, BankPort
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.features import TIER_BAND, age_on, vector
from kefu.crosssell.models import RiskAssessment
from kefu.crosssell.rules import Facts, refusals
from kefu.identity.models import ChannelIdentity, Customer
from kefu.vocabulary import IdentityKind

TIERS = ("standard", "gold", "platinum", "private")


class BadSegment(ValueError):
    """A filter that cannot be applied; the message names it."""


@dataclass(frozen=True)
class Segment:
    age_min: int | None = None
    age_max: int | None = None
    tiers: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()  # must hold every one
    not_holds: tuple[str, ...] = ()  # must hold none
    cities: tuple[str, ...] = ()
    min_score: float | None = None  # the campaign product's propensity, 0..1
    analytics_segment: int | None = None  # a saved analytics segment's id

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Segment:
        raw = json.loads(text or "{}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

    def check(self) -> Segment:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise BadSegment("年龄下限大于上限")
        for age in (self.age_min, self.age_max):
            if age is not None and not 18 <= age <= 120:
                raise BadSegment("年龄须在 18 到 120 岁之间")
        unknown = [t for t in self.tiers if t not in TIERS]
        if unknown:
            raise BadSegment(f"未知的客户等级：{'、'.join(unknown)}")
        if set(self.holds) & set(self.not_holds):
            raise BadSegment("同一产品不能既要求持有又要求未持有")
        if self.min_score is not None and not 0 <= self.min_score <= 1:
            raise BadSegment("模型分数下限须在 0 到 1 之间")
        return self


@dataclass
class Candidate:
    customer_no: str
    phone: str
    score: float | None = None


@dataclass
class Audience:
    members: list[Candidate] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why customers fell out, counted


def analytics_members() -> Callable[[AsyncSession, int], Awaitable[list[str]]] | None:
    """``kefu.analytics.segments.members`` when that module exists (another part adds it);
    None when it does not, so a segment by analytics is refused with a reason, not an error.
    Imported by name: crosssell does not depend on analytics being installed."""
    try:
        module = importlib.import_module("kefu.analytics.segments")
    except ImportError:
        return None
    members = getattr(module, "members", None)
    return members if callable(members) else None


async def known_customers(db: AsyncSession) -> list[tuple[str, str]]:
    """(bank customer number, mobile) of every customer with a bound phone, first bound."""
    rows = await db.execute(
        select(Customer.bank_customer_no, ChannelIdentity.value)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
        .where(ChannelIdentity.kind == IdentityKind.PHONE.value)
        .order_by(Customer.id, ChannelIdentity.id)
    )
    seen: dict[str, str] = {}
    for customer_no, phone in rows.all():
        seen.setdefault(customer_no, phone)
    return list(seen.items())


async def _assessments(db: AsyncSession, customer_nos: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(customer_nos), 500):
        rows = await db.scalars(select(RiskAssessment).where(
            RiskAssessment.customer_no.in_(customer_nos[start : start + 500])))  # fmt: skip
        found.update((a.customer_no, a) for a in rows)
    return found


def _skip(audience: Audience, why: str) -> None:
    audience.skipped[why] = audience.skipped.get(why, 0) + 1


async def build(
    db: AsyncSession,
    bank: BankPort,
    segment: Segment,
    *,
    product_code: str,
    models: Any | None,
    today: date,
    universe: Sequence[tuple[str, str]] | None = None,
) -> Audience:
    """The customers the segment selects. Raises BadSegment when a filter cannot be applied
    (an analytics segment without the analytics module, a score floor without a model)."""
    universe = list(universe) if universe is not None else await known_customers(db)
    if segment.analytics_segment is not None:
        members = analytics_members()
        if members is None:
            raise BadSegment("行为分析细分不可用（kefu.analytics.segments 未安装）")
        try:
            wanted = set(await members(db, segment.analytics_segment))
        except LookupError:
            raise BadSegment(f"没有编号为 {segment.analytics_segment} 的行为分析细分") from None
        universe = [(c, p) for c, p in universe if c in wanted]
    model = None
    if segment.min_score is not None:
        model = getattr(models, "propensity", {}).get(product_code) if models else None
        if model is None:
            raise BadSegment("没有该产品的推荐模型，不能按模型分数筛选")
    audience = Audience()
    # The hard rules the offer panel applies (eligibility, suitability) hold for a campaign
    # too: an ineligible or unsuitable customer is never sent the product.
    product = next((p for p in await bank.list_products() if p.code == product_code), None)
    terms = TERMS.get(product_code)
    assessed = await _assessments(db, [c for c, _ in universe])
    for customer_no, phone in universe:
        try:
            profile = await bank.get_customer(customer_no)
            held = frozenset(h.product_code for h in await bank.list_holdings(customer_no))
            cards = await bank.list_cards(customer_no) if product is not None else []
        except BankError:
            _skip(audience, "银行系统中查不到")
            continue
        age = age_on(profile.birth_date, today)
        if segment.age_min is not None and age < segment.age_min:
            _skip(audience, "年龄不符")
            continue
        if segment.age_max is not None and age > segment.age_max:
            _skip(audience, "年龄不符")
            continue
        if segment.tiers and profile.tier not in segment.tiers:
            _skip(audience, "客户等级不符")
            continue
        if segment.cities and profile.city not in segment.cities:
            _skip(audience, "地区不符")
            continue
        if not set(segment.holds) <= held or set(segment.not_holds) & held:
            _skip(audience, "持有产品不符")
            continue
        if product_code in held:
            _skip(audience, "已持有推广产品")
            continue
        if product is not None:
            assessment = assessed.get(customer_no)
            facts = Facts(customer_no=customer_no, age=age, city=profile.city, held=held,
                          income_band=TIER_BAND.get(profile.tier, 1),
                          credit_cards=sum(1 for c in cards
                                           if c.kind == "credit" and c.status == "active"),
                          risk_level=assessment.level if assessment else None,
                          assessed_on=assessment.assessed_on if assessment else None,
                          today=today)  # fmt: skip
            if refusals(product, terms, facts):
                _skip(audience, "不符合产品准入或适当性规则")
                continue
        score = None
        if model is not None:
            facts = Facts(customer_no=customer_no, age=age, income_band=1, city=profile.city,
                          held=held, credit_cards=0, today=today)  # fmt: skip
            score = float(model.predict(vector(facts)[None, :])[0])
            if score < (segment.min_score or 0):
                _skip(audience, "模型分数低于下限")
                continue
        audience.members.append(Candidate(customer_no, phone, score))
    return audience
