"""Hard rules, one test per rule: an offer that breaks it is refused (with its reason) and is
never among the offers, whatever its propensity."""

from __future__ import annotations

from datetime import date

import pytest

from kefu.crosssell.arbitration import Policy, decide
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.rules import refusals
from tests.crosssell.helpers import BY_CODE, PRODUCTS, facts, models

# (product, facts that break one rule, words the refusal must contain)
CASES = [
    ("INS-CAR", {"held": frozenset({"INS-CAR"})}, "已持有"),
    ("LOAN-CON", {"age": 20}, "年龄未满 22"),
    ("INS-PEN", {"age": 60}, "年龄超过 59"),
    ("CD3Y", {"income_band": 1}, "收入或资产等级"),
    ("CARD-INST", {"credit_cards": 0}, "信用卡"),
    ("INS-CAR", {"city": "乌鲁木齐"}, "乌鲁木齐暂不销售"),
    ("WM-R2", {"risk_level": None, "assessed_on": None}, "没有风险测评"),
    ("FUND-MIX", {"assessed_on": date(2025, 6, 1)}, "超过一年"),
    ("FUND-IDX", {"risk_level": 3}, "R4 高于客户风险承受能力 C3"),
    ("FUND-IDX", {"age": 66, "risk_level": 5}, "65 岁以上"),
]


@pytest.mark.parametrize(("code", "change", "words"), CASES)
def test_each_rule_refuses_and_the_offer_is_never_made(code: str, change: dict, words: str) -> None:
    product = BY_CODE[code]
    ok = facts(risk_level=5) if code == "FUND-IDX" else facts()
    assert refusals(product, TERMS[code], ok) == []  # the same customer without the breach
    broken = facts(**({"risk_level": 5} if code == "FUND-IDX" else {}) | change)
    reasons = refusals(product, TERMS[code], broken)
    assert any(words in r for r in reasons), reasons
    # Highest propensity of all, still never offered.
    decision = decide(PRODUCTS, broken, models({code: 0.99}), Policy())
    assert code not in [o.product.code for o in decision.offers]
    assert any(words in r for r in decision.excluded[product.name])


def test_a_product_without_selling_terms_is_never_offered() -> None:
    assert refusals(BY_CODE["DEP1Y"], None, facts()) == ["该产品没有销售条款，不可推荐"]


def test_loans_and_insurance_need_no_risk_assessment() -> None:
    unassessed = facts(risk_level=None, assessed_on=None)
    assert refusals(BY_CODE["INS-ACC"], TERMS["INS-ACC"], unassessed) == []
    assert refusals(BY_CODE["LOAN-CAR"], TERMS["LOAN-CAR"], unassessed) == []
