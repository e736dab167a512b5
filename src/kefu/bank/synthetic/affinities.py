"""Planted product affinities of the synthetic bank's holdings (issue #18).

Real holdings are not independent: a car loan brings car insurance, a salary account a fund,
a time deposit a low-risk wealth product. The synthetic bank plants such rules so that a
recommender has something true to recover and a benchmark can say how much it recovers.

Each rule draws from the customer's own generator (seeded from the bank seed and the
customer's index), never from the block's: the rest of the bank (cards, bills, transactions,
the next customers) stays exactly what it was before the rules were planted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# The "seed" products a customer holds first (drawn as before: uniformly from the catalogue),
# and what each rule adds. (antecedent test, product added, probability)


@dataclass(frozen=True)
class Affinity:
    name: str
    applies: Callable[[set[str], dict], bool]
    product: str
    probability: float


AFFINITIES: list[Affinity] = [
    Affinity("车贷→车险", lambda held, c: "LOAN-CAR" in held, "INS-CAR", 0.75),
    Affinity("工资代发→基金", lambda held, c: c["salary"], "FUND-MIX", 0.35),
    Affinity("定期存款→稳健理财", lambda held, c: bool(held & {"DEP1Y", "CD3Y"}), "WM-R2", 0.6),
    Affinity("信用卡→账单分期", lambda held, c: c["credit_cards"] > 0, "CARD-INST", 0.25),
    Affinity("年长→养老保险", lambda held, c: c["age"] >= 45, "INS-PEN", 0.3),
    Affinity("理财→指数基金", lambda held, c: "WM-R3" in held, "FUND-IDX", 0.5),
]
# A car loan is drawn for car owners more than chance would give, so the car rule fires often
# enough to be learnt from a few thousand customers.
CAR_LOAN_RATE = 0.12


def planted(seed: int, index: int, base: list[str], context: dict) -> list[str]:
    """The customer's product codes: ``base`` (deduplicated, in order) plus what the rules add.
    ``context``: age, salary (a 工资 credit in the recent transactions), credit_cards."""
    rng = random.Random(f"kefu-affinity:{seed}:{index}")
    held: list[str] = list(dict.fromkeys(base))
    if "LOAN-CAR" not in held and rng.random() < CAR_LOAN_RATE:
        held.append("LOAN-CAR")
    for rule in AFFINITIES:
        chance = rng.random()  # drawn for every rule: one rule's outcome never shifts another's
        if (
            rule.product not in held
            and rule.applies(set(held), context)
            and chance < rule.probability
        ):
            held.append(rule.product)
    return held
