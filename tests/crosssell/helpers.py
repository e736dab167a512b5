"""Small stand-ins shared by the cross-selling tests: a catalogue like the bank port's and a
model set whose propensities are fixed per product (so a test knows the ranking)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from kefu.bank.models import Product
from kefu.bank.synthetic import reference as ref
from kefu.crosssell.affinity import CoOccurrence
from kefu.crosssell.rules import Facts
from kefu.crosssell.training import Models

TODAY = date(2026, 6, 30)
PRODUCTS = [Product(code=c, name=n, category=cat, risk_level=r, description=d)  # type: ignore[arg-type]
            for c, n, cat, r, d in ref.PRODUCTS]  # fmt: skip
BY_CODE = {p.code: p for p in PRODUCTS}


class FixedPropensity:
    """Propensity that reads one feature column (to make explanations testable) or a constant."""

    def __init__(self, value: float, column: int | None = None) -> None:
        self.value, self.column = value, column

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.column is None:
            return np.full(len(x), self.value)
        return self.value * (0.2 + 0.8 * x[:, self.column])


def models(values: dict[str, float] | None = None) -> Models:
    values = values or {}
    return Models(
        propensity={p.code: FixedPropensity(values.get(p.code, 0.05)) for p in PRODUCTS},  # type: ignore[misc]
        affinity=CoOccurrence(min_support=1).fit([frozenset({"LOAN-CAR", "INS-CAR"})] * 3),
        trained_at=datetime.now(UTC),
        customers=3,
    )


def facts(**changes) -> Facts:  # type: ignore[no-untyped-def]
    base = {"customer_no": "C0000000001", "age": 40, "income_band": 2, "city": "上海",
            "held": frozenset(), "credit_cards": 1, "salary": True, "risk_level": 3,
            "assessed_on": date(2026, 1, 10), "today": TODAY}  # fmt: skip
    return Facts(**(base | changes))
