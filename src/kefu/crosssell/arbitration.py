"""Arbitration: which offers, in which order, and why — in that order of precedence:

1. contact policy for the whole conversation (an angry customer, an open complaint, the
   month's cap reached): no offer at all, and the panel says which;
2. eligibility and suitability (kefu.crosssell.rules): hard rules, never overridden;
3. recent refusals: a product declined (or found not suitable) lately is not offered again;
4. expected value = calibrated propensity × the product's margin, highest first.

Every offer carries its reasons in plain Chinese: the features that raised its propensity the
most (each measured by taking it away and scoring again) and "customers like you"."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from kefu.bank.models import Product
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.features import vector
from kefu.crosssell.propensity import one_thread
from kefu.crosssell.rules import Facts, refusals
from kefu.crosssell.training import Models

TOP = 3
MONTHLY_CAP = 3  # offers made to one customer in 30 days, whatever the channel
REFUSAL_DAYS = 90  # a declined product is not offered again for this long


@dataclass(frozen=True)
class Policy:
    """The contact history and the conversation's state that the contact policy reads."""

    offers_last_30_days: int = 0
    refused_recently: frozenset[str] = frozenset()  # product codes declined / not suitable
    open_complaint: bool = False
    negative_sentiment: bool = False


@dataclass
class Offer:
    product: Product
    propensity: float
    expected_value: float
    reasons: list[str]
    script: str
    disclosure: str


@dataclass
class Decision:
    offers: list[Offer] = field(default_factory=list)
    withheld: str | None = None  # why no offer at all (contact policy)
    excluded: dict[str, list[str]] = field(default_factory=dict)  # product name → reasons


def withheld_by_policy(policy: Policy) -> str | None:
    if policy.negative_sentiment:
        return "客户当前情绪不佳，本次不推荐产品，先解决客户的问题"
    if policy.open_complaint:
        return "客户近 30 天有投诉，暂不推荐产品"
    if policy.offers_last_30_days >= MONTHLY_CAP:
        return f"近 30 天已推荐 {policy.offers_last_30_days} 次，达到每月 {MONTHLY_CAP} 次的上限"
    return None


def decide(products: list[Product], facts: Facts, models: Models, policy: Policy) -> Decision:
    with one_thread():
        return _decide(products, facts, models, policy)


def _decide(products: list[Product], facts: Facts, models: Models, policy: Policy) -> Decision:
    reason = withheld_by_policy(policy)
    if reason:
        return Decision(withheld=reason)
    decision = Decision()
    allowed: list[Product] = []
    for product in products:
        broken = refusals(product, TERMS.get(product.code), facts)
        if product.code in policy.refused_recently:
            broken.append(f"客户 {REFUSAL_DAYS} 天内拒绝过或不适合")
        if product.code not in models.propensity:
            broken.append("没有该产品的推荐模型")
        if broken:
            decision.excluded[product.name] = broken
        else:
            allowed.append(product)
    x = vector(facts)[None, :]
    scored = []
    for product in allowed:
        p = float(models.propensity[product.code].predict(x)[0])
        scored.append((p * TERMS[product.code].margin, p, product))
    scored.sort(key=lambda item: -item[0])
    names = {p.code: p.name for p in products}
    for value, p, product in scored[:TOP]:
        terms = TERMS[product.code]
        decision.offers.append(
            Offer(
                product=product,
                propensity=p,
                expected_value=value,
                reasons=explain(product.code, facts, models, names),
                script=terms.script,
                disclosure=terms.disclosure,
            )
        )
    return decision


def explain(code: str, facts: Facts, models: Models, names: dict[str, str]) -> list[str]:
    """The two facts whose removal lowers the propensity most, and customers like you."""
    variants: list[tuple[str, Facts]] = [
        (f"持有{names.get(held, held)}", replace(facts, held=facts.held - {held}))
        for held in sorted(facts.held)
    ]
    if facts.salary:
        variants.append(("工资在本行代发", replace(facts, salary=False)))
    if facts.credit_cards:
        variants.append(("持有本行信用卡", replace(facts, credit_cards=0)))
    variants.append((f"{facts.age} 岁", replace(facts, age=40)))
    model = models.propensity[code]
    rows = np.array([vector(facts)] + [vector(v) for _, v in variants])
    scores = model.predict(rows)
    drops = sorted(zip(scores[0] - scores[1:], [w for w, _ in variants], strict=True), reverse=True)
    reasons = [f"{words}（购买可能性 +{drop:.0%}）" for drop, words in drops[:2] if drop >= 0.01]
    share, because = models.affinity.score(facts.held, code)
    if because:
        reasons.append(f"持有{names.get(because, because)}的客户中 {share:.0%} 也持有该产品")
    if not reasons:
        reasons.append(f"同类客户购买可能性 {scores[0]:.0%}")
    return reasons
