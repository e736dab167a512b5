"""One customer's facts and model features, from the bank port (at request time) or from the
synthetic generator's rows (for training without a database)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from kefu.bank.port import BankPort
from kefu.bank.synthetic import reference as ref
from kefu.crosssell.rules import Facts

PRODUCT_CODES = [code for code, *_ in ref.PRODUCTS]
TIER_BAND = {"standard": 1, "gold": 2, "platinum": 3, "private": 4}
SALARY = "工资"
NUMERIC = ["age", "income_band", "credit_cards", "salary", "holdings"]
FEATURE_NAMES = NUMERIC + [f"holds:{code}" for code in PRODUCT_CODES]
# Words for the reasons the agent reads (features.explain).
FEATURE_WORDS = {"age": "年龄", "income_band": "客户等级", "credit_cards": "信用卡",
                 "salary": "工资代发", "holdings": "持有产品数"}  # fmt: skip


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


async def facts_from_bank(
    bank: BankPort,
    customer_no: str,
    *,
    today: date,
    risk_level: int | None = None,
    assessed_on: date | None = None,
    salary: bool = True,
) -> Facts:
    """Raises the port's NotFound / BankError. ``salary=False``: the account and transaction
    reads are skipped and salary is taken as absent (the hard rules never read it; precomputed
    scores were made with it)."""
    profile = await bank.get_customer(customer_no)
    holdings = await bank.list_holdings(customer_no)
    cards = await bank.list_cards(customer_no)
    paid = False
    for account in await bank.list_accounts(customer_no) if salary else []:
        if any(t.description == SALARY and t.amount > 0
               for t in await bank.list_transactions(account.account_no, limit=10)):  # fmt: skip
            paid = True
            break
    return Facts(
        customer_no=customer_no,
        age=age_on(profile.birth_date, today),
        income_band=TIER_BAND.get(profile.tier, 1),
        city=profile.city,
        held=frozenset(h.product_code for h in holdings),
        credit_cards=sum(1 for c in cards if c.kind == "credit" and c.status == "active"),
        salary=paid,
        risk_level=risk_level,
        assessed_on=assessed_on,
        today=today,
    )


def facts_from_bundle(
    bundle: Any,
    *,
    today: date,
    risk_level: int | None = None,
    assessed_on: date | None = None,
) -> Facts:
    """The same facts as ``facts_from_bank`` (salary read), from a bulk read of the bank
    (``SyntheticBank.read_many``: profile, held codes, cards' kind and status, each account's
    10 latest transactions)."""
    profile = bundle.profile
    return Facts(
        customer_no=profile.customer_no,
        age=age_on(profile.birth_date, today),
        income_band=TIER_BAND.get(profile.tier, 1),
        city=profile.city,
        held=frozenset(bundle.holdings),
        credit_cards=sum(
            1 for kind, status in bundle.cards if kind == "credit" and status == "active"
        ),  # fmt: skip
        salary=any(d == SALARY and amount > 0 for d, amount in bundle.recent),
        risk_level=risk_level,
        assessed_on=assessed_on,
        today=today,
    )


def vector(facts: Facts, *, without: str | None = None) -> np.ndarray:
    """The model's input. ``without``: the product being scored, hidden from its own model
    (its model learns who holds it from everything else)."""
    held = facts.held - {without} if without else facts.held
    numbers = [facts.age, facts.income_band, facts.credit_cards, float(facts.salary), len(held)]
    return np.array(numbers + [float(code in held) for code in PRODUCT_CODES])
