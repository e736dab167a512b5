"""Arbitration: contact policy first (no offer at all), then refusals, then expected value;
reasons in plain Chinese."""

from __future__ import annotations

from dataclasses import replace

from kefu.crosssell.arbitration import MONTHLY_CAP, TOP, Policy, decide
from kefu.crosssell.catalogue import TERMS
from kefu.crosssell.features import FEATURE_NAMES
from tests.crosssell.helpers import PRODUCTS, FixedPropensity, facts, models


def test_ranked_by_propensity_times_margin_top_three() -> None:
    # LOAN-CAR: 0.10 × 1500 = 150 beats DEP3M: 0.9 × 40 = 36 despite the lower propensity.
    decision = decide(PRODUCTS, facts(), models({"LOAN-CAR": 0.10, "DEP3M": 0.9}), Policy())
    codes = [o.product.code for o in decision.offers]
    assert len(codes) == TOP and codes[0] == "LOAN-CAR"
    values = [o.expected_value for o in decision.offers]
    assert values == sorted(values, reverse=True)
    first = decision.offers[0]
    assert first.expected_value == 0.10 * TERMS["LOAN-CAR"].margin
    assert first.script == TERMS["LOAN-CAR"].script and first.disclosure


def test_angry_customer_gets_no_offer() -> None:
    decision = decide(PRODUCTS, facts(), models(), Policy(negative_sentiment=True))
    assert decision.offers == [] and "情绪" in (decision.withheld or "")


def test_recent_complaint_gets_no_offer() -> None:
    decision = decide(PRODUCTS, facts(), models(), Policy(open_complaint=True))
    assert decision.offers == [] and "投诉" in (decision.withheld or "")


def test_monthly_cap() -> None:
    assert decide(PRODUCTS, facts(), models(), Policy(offers_last_30_days=MONTHLY_CAP - 1)).offers
    capped = decide(PRODUCTS, facts(), models(), Policy(offers_last_30_days=MONTHLY_CAP))
    assert capped.offers == [] and "上限" in (capped.withheld or "")


def test_recently_declined_product_is_not_offered_again() -> None:
    values = {"LOAN-CAR": 0.5}
    assert decide(PRODUCTS, facts(), models(values), Policy()).offers[0].product.code == "LOAN-CAR"
    decision = decide(PRODUCTS, facts(), models(values),
                      Policy(refused_recently=frozenset({"LOAN-CAR"})))  # fmt: skip
    assert "LOAN-CAR" not in [o.product.code for o in decision.offers]


def test_a_product_without_a_model_is_not_offered() -> None:
    m = models({"LOAN-CAR": 0.9})
    del m.propensity["LOAN-CAR"]
    decision = decide(PRODUCTS, facts(), m, Policy())
    assert "LOAN-CAR" not in [o.product.code for o in decision.offers]


def test_reasons_name_the_feature_that_drove_the_score_and_customers_like_you() -> None:
    m = models({"INS-CAR": 0.0})
    column = FEATURE_NAMES.index("holds:LOAN-CAR")
    m.propensity["INS-CAR"] = FixedPropensity(0.9, column)  # type: ignore[assignment]
    customer = replace(facts(), held=frozenset({"LOAN-CAR"}))
    offer = next(o for o in decide(PRODUCTS, customer, m, Policy()).offers
                 if o.product.code == "INS-CAR")  # fmt: skip
    assert offer.reasons[0].startswith("持有汽车分期贷款")
    assert any("持有汽车分期贷款的客户中 100% 也持有该产品" in r for r in offer.reasons)
