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


def allowed_products(
    products: list[Product], facts: Facts, models: Models, policy: Policy, decision: Decision
) -> list[Product]:
    """The products no hard rule, recent refusal or missing model keeps out; the others go
    into ``decision.excluded`` with every reason."""
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
    return allowed


def _decide(products: list[Product], facts: Facts, models: Models, policy: Policy) -> Decision:
    reason = withheld_by_policy(policy)
    if reason:
        return Decision(withheld=reason)
    decision = Decision()
    allowed = allowed_products(products, facts, models, policy, decision)
    x = vector(facts)[None, :]
    scored = []
    for product in allowed:
        p = float(models.propensity[product.code].predict(x)[0])
        scored.append((p * TERMS[product.code].margin, p, product))
    scored.sort(key=lambda item: -item[0])
    names = {p.code: p.name for p in products}
    for value, p, product in scored[:TOP]:
        reasons = explain(product.code, facts, models, names)
        decision.offers.append(_offer(product, p, value, reasons))
    return decision


def _offer(product: Product, p: float, value: float, reasons: list[str]) -> Offer:
    terms = TERMS[product.code]
    return Offer(product=product, propensity=p, expected_value=value, reasons=reasons,
                 script=terms.script, disclosure=terms.disclosure)  # fmt: skip


def decide_stored(
    products: list[Product],
    facts: Facts,
    models: Models,
    policy: Policy,
    stored: dict[str, tuple[float, list[Reason]]],
) -> Decision | None:
    """The same decision from precomputed propensities and reasons (kefu.crosssell.scores):
    the contact policy and every hard rule are applied here, on today's facts, exactly as in
    ``decide``; only the model's arithmetic is read from ``stored``. None when the stored
    scores cannot answer (a product allowed today was not scored): the caller scores live."""
    reason = withheld_by_policy(policy)
    if reason:
        return Decision(withheld=reason)
    decision = Decision()
    allowed = allowed_products(products, facts, models, policy, decision)
    if any(product.code not in stored for product in allowed):
        return None
    scored = sorted(
        ((stored[p.code][0] * TERMS[p.code].margin, p) for p in allowed), key=lambda i: -i[0]
    )
    names = {p.code: p.name for p in products}
    for value, product in scored[:TOP]:
        p, reasons = stored[product.code]
        decision.offers.append(_offer(product, p, value, words(reasons, names)))
    return decision


# A reason as stored (kefu.crosssell.scores keeps them per customer): what was taken away
# ("h:<product code>" held, "salary", "cards", "age:<years>"), or "like:<product code>" for
# customers like you, or "base"; and the drop in propensity (or the share, or the score).
Reason = tuple[str, float]


def variants(facts: Facts) -> list[tuple[str, Facts]]:
    """The facts with one thing taken away each, keyed as in Reason."""
    out: list[tuple[str, Facts]] = [
        (f"h:{held}", replace(facts, held=facts.held - {held})) for held in sorted(facts.held)
    ]
    if facts.salary:
        out.append(("salary", replace(facts, salary=False)))
    if facts.credit_cards:
        out.append(("cards", replace(facts, credit_cards=0)))
    out.append((f"age:{facts.age}", replace(facts, age=40)))
    return out


def reasons_from(
    code: str, facts: Facts, models: Models, score: float, keys: list[str], drops: np.ndarray
) -> list[Reason]:
    """The two facts whose removal lowers the propensity most, and customers like you."""
    ranked = sorted(zip(drops, keys, strict=True), reverse=True)
    reasons: list[Reason] = [(key, float(drop)) for drop, key in ranked[:2] if drop >= 0.01]
    share, because = models.affinity.score(facts.held, code)
    if because:
        reasons.append((f"like:{because}", share))
    if not reasons:
        reasons.append(("base", score))
    return reasons


def explain_codes(code: str, facts: Facts, models: Models) -> list[Reason]:
    pairs = variants(facts)
    rows = np.array([vector(facts)] + [vector(v) for _, v in pairs])
    scores = models.propensity[code].predict(rows)
    keys = [k for k, _ in pairs]
    return reasons_from(code, facts, models, float(scores[0]), keys, scores[0] - scores[1:])


def words(reasons: list[Reason], names: dict[str, str]) -> list[str]:
    """The agent's plain Chinese for stored reasons."""
    out = []
    for key, value in reasons:
        kind, _, arg = key.partition(":")
        if kind == "like":
            out.append(f"持有{names.get(arg, arg)}的客户中 {value:.0%} 也持有该产品")
        elif kind == "base":
            out.append(f"同类客户购买可能性 {value:.0%}")
        else:
            what = {"h": f"持有{names.get(arg, arg)}", "salary": "工资在本行代发",
                    "cards": "持有本行信用卡", "age": f"{arg} 岁"}[kind]  # fmt: skip
            out.append(f"{what}（购买可能性 +{value:.0%}）")
    return out


def explain(code: str, facts: Facts, models: Models, names: dict[str, str]) -> list[str]:
    """The two facts whose removal lowers the propensity most, and customers like you."""
    return words(explain_codes(code, facts, models), names)
