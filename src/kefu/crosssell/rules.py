"""Hard rules: eligibility (age, income band, products held, region) and suitability (the
customer's risk assessment against the product's risk, elderly protection). An offer that
fails any rule is never shown or sent, whatever its propensity; each refusal says why in
plain Chinese so the agent (and an auditor) can read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from kefu.bank.models import Product
from kefu.crosssell.catalogue import INVESTMENT, Terms

ASSESSMENT_VALID = timedelta(days=365)  # a risk assessment (风险测评) is valid for one year
ELDERLY_AGE = 65  # 老年客户: no product above R3, whatever the assessment says
ELDERLY_MAX_RISK = 3


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about one customer."""

    customer_no: str
    age: int
    income_band: int  # 1 standard … 4 private
    city: str
    held: frozenset[str]  # product codes held
    credit_cards: int
    salary: bool = False  # a 工资 credit among the recent transactions
    risk_level: int | None = None  # the latest risk assessment, C1..C5 as 1..5
    assessed_on: date | None = None
    today: date = field(default_factory=date.today)


def eligibility(product: Product, terms: Terms, facts: Facts) -> list[str]:
    reasons = []
    if product.code in facts.held:
        reasons.append("客户已持有该产品")
    if facts.age < terms.min_age:
        reasons.append(f"年龄未满 {terms.min_age} 岁")
    if facts.age > terms.max_age:
        reasons.append(f"年龄超过 {terms.max_age} 岁")
    if facts.income_band < terms.min_income_band:
        reasons.append("收入或资产等级不满足起购要求")
    missing = terms.requires - facts.held
    if missing:
        reasons.append("需先持有：" + "、".join(sorted(missing)))
    if terms.requires_credit_card and facts.credit_cards == 0:
        reasons.append("需持有本行信用卡")
    if terms.regions is not None and facts.city not in terms.regions:
        reasons.append(f"{facts.city}暂不销售该产品")
    return reasons


def suitability(product: Product, facts: Facts) -> list[str]:
    if product.category not in INVESTMENT:
        return []
    reasons = []
    if facts.risk_level is None or facts.assessed_on is None:
        reasons.append("客户没有风险测评，不能推荐理财或基金")
    elif facts.today - facts.assessed_on > ASSESSMENT_VALID:
        reasons.append("风险测评已超过一年，需重新测评")
    elif product.risk_level > facts.risk_level:
        reasons.append(f"产品风险 R{product.risk_level} 高于客户风险承受能力 C{facts.risk_level}")
    if facts.age >= ELDERLY_AGE and product.risk_level > ELDERLY_MAX_RISK:
        reasons.append(f"{ELDERLY_AGE} 岁以上客户不推荐 R{ELDERLY_MAX_RISK} 以上产品")
    return reasons


def refusals(product: Product, terms: Terms | None, facts: Facts) -> list[str]:
    """Every rule the offer breaks; empty: it may be offered."""
    if terms is None:
        return ["该产品没有销售条款，不可推荐"]
    return eligibility(product, terms, facts) + suitability(product, facts)
