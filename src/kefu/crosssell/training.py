"""Training the product's models on the bank's customers: one calibrated propensity model per
product (does a customer like this hold it?) and the co-occurrence of holdings. The shipped
file is trained on the synthetic bank (seeded, so it is reproducible); a bank retrains it on
its own customers with ``kefu crosssell train``.

Evaluation of next-product recommendation: on customers never trained on, hide each one's
newest holding and ask for three products; MAP@3 and recall@3 against the hidden one, beside
"the most popular product the customer does not hold" in the same run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import joblib
import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankError, BankPort
from kefu.bank.synthetic.generator import BLOCK, generate_block
from kefu.crosssell.affinity import CoOccurrence
from kefu.crosssell.features import PRODUCT_CODES, TIER_BAND, age_on, facts_from_bank, vector
from kefu.crosssell.models import OfferOutcome
from kefu.crosssell.propensity import Propensity, one_thread
from kefu.crosssell.rules import Facts

DATA_DIR = Path(__file__).parent / "data"
MODEL_FILE = DATA_DIR / "crosssell-models.joblib"
FORMAT = 1


@dataclass
class Models:
    propensity: dict[str, Propensity]
    affinity: CoOccurrence
    trained_at: datetime
    customers: int
    format: int = FORMAT
    notes: dict[str, str] = field(default_factory=dict)

    def save(self, path: Path = MODEL_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path, compress=3)

    @staticmethod
    def load(path: Path = MODEL_FILE) -> Models:
        """Raises FileNotFoundError, or ValueError when the file is of another format."""
        models = joblib.load(path)
        if not isinstance(models, Models) or models.format != FORMAT:
            raise ValueError(f"{path} is not a cross-selling model file of format {FORMAT}")
        return models


def synthetic_facts(
    seed: int, first: int, count: int, as_of: date
) -> Iterator[tuple[Facts, list[str]]]:
    """Facts of the synthetic customers [first, first + count) straight from the generator
    (the same rows ``kefu bank seed`` writes), without a database, with their product codes in
    the order they were taken up (the planted ones last)."""
    total = first + count
    for block_no in range(first // BLOCK, (total + BLOCK - 1) // BLOCK):
        block = generate_block(seed, block_no, total, as_of)
        credit: dict[int, int] = {}
        for card in block.cards:
            if card["kind"] == "credit":
                credit[card["customer_id"]] = credit.get(card["customer_id"], 0) + 1
        owner = {a["id"]: a["customer_id"] for a in block.accounts}
        salaried = {
            owner[t["account_id"]] for t in block.transactions if t["description"] == "工资"
        }
        held: dict[int, list[str]] = {}
        for h in block.holdings:
            held.setdefault(h["customer_id"], []).append(h["product_code"])
        for c in block.customers:
            if c["id"] - 1 < first:
                continue
            yield (
                Facts(
                    customer_no=c["customer_no"],
                    age=age_on(c["birth_date"], as_of),
                    income_band=TIER_BAND[c["tier"]],
                    city=c["city"],
                    held=frozenset(held.get(c["id"], [])),
                    credit_cards=credit.get(c["id"], 0),
                    salary=c["id"] in salaried,
                    today=as_of,
                ),
                held.get(c["id"], []),
            )


@dataclass(frozen=True)
class Example:
    """A recorded outcome as a labelled row for one product's model (``outcome_examples``)."""

    facts: Facts
    product_code: str
    label: int  # 1: accepted or interested; 0: declined or not suitable


def train(
    facts: list[Facts],
    *,
    max_iter: int = 120,
    outcomes: list[Example] = (),  # type: ignore[assignment]
    outcome_weight: float = 5.0,
    only: frozenset[str] | None = None,
) -> Models:
    """``outcomes``: recorded outcomes added to their product's rows, each weighing
    ``outcome_weight`` synthetic rows (they are answers to an offer, not holdings).
    ``only``: train these products' models alone (tests)."""
    x = np.array([vector(f) for f in facts])
    first = x.shape[1] - len(PRODUCT_CODES)
    models = {}
    for column, code in enumerate(PRODUCT_CODES, start=first):
        y = x[:, column].astype(int)
        if y.sum() < 20 or (only is not None and code not in only):
            continue  # too few holders to learn from: no model, so never a score
        masked = x.copy()
        masked[:, column] = 0.0  # the product's own column is what it predicts
        masked[:, 4] -= y  # and the holdings count must not give it away either
        weight = np.ones(len(y))
        mine = [e for e in outcomes if e.product_code == code]
        if mine:
            # The product is hidden from its own model, as for every other row (an accepted
            # offer is a holding by now).
            extra = np.array([vector(e.facts, without=code) for e in mine])
            masked = np.vstack([masked, extra])
            y = np.concatenate([y, [e.label for e in mine]])
            weight = np.concatenate([weight, np.full(len(mine), outcome_weight)])
        models[code] = Propensity([False] * x.shape[1], max_iter=max_iter).fit(masked, y, weight)
    notes = (
        {"outcomes": str(len(outcomes)), "outcome_weight": str(outcome_weight)} if outcomes else {}
    )
    return Models(
        propensity=models,
        affinity=CoOccurrence().fit(f.held for f in facts),
        trained_at=datetime.now(UTC),
        customers=len(facts),
        notes=notes,
    )


LABELS = {"accepted": 1, "interested": 1, "declined": 0, "not_suitable": 0}


async def outcome_examples(session: AsyncSession, bank: BankPort, today: date) -> list[Example]:
    """The recorded outcomes as labelled rows, one per customer and product (the strongest
    answer wins: accepted over interested over a refusal; "offered" alone is no answer), with
    the customer's facts read from the bank port today. Customers the bank no longer has are
    left out."""
    rank = {"accepted": 3, "interested": 2, "declined": 1, "not_suitable": 1}
    best: dict[tuple[str, str], str] = {}
    for customer_no, code, outcome in await session.execute(
        select(OfferOutcome.customer_no, OfferOutcome.product_code, OfferOutcome.outcome).where(
            OfferOutcome.outcome.in_(tuple(LABELS))
        )
    ):
        key = (customer_no, code)
        if key not in best or rank[outcome] > rank[best[key]]:
            best[key] = outcome
    examples, facts_of = [], {}
    for (customer_no, code), outcome in sorted(best.items()):
        if customer_no not in facts_of:
            try:
                facts_of[customer_no] = await facts_from_bank(bank, customer_no, today=today)
            except BankError:
                facts_of[customer_no] = None
        if facts_of[customer_no] is not None:
            examples.append(Example(facts_of[customer_no], code, LABELS[outcome]))
    return examples


def blended(models: Models, facts: list[Facts]) -> np.ndarray:
    """Ranking scores, one row per customer and one column per product (PRODUCT_CODES):
    calibrated propensity, nudged by "customers like you". No model: 0."""
    x = np.array([vector(f) for f in facts])
    out = np.zeros((len(facts), len(PRODUCT_CODES)))
    for j, code in enumerate(PRODUCT_CODES):
        model = models.propensity.get(code)
        if model is not None:
            with one_thread():
                out[:, j] = 0.8 * model.predict(x)
        out[:, j] += [0.2 * models.affinity.score(f.held, code)[0] for f in facts]
    return out


def recommendation_eval(models: Models, held_out: list[tuple[Facts, list[str]]]) -> dict:
    """MAP@3 and recall@3 of the newest holding, hidden, for customers with two or more."""
    from dataclasses import replace

    cases = [(replace(f, held=frozenset(order[:-1])), order[-1]) for f, order in held_out
             if len(order) >= 2]  # fmt: skip
    facts = [f for f, _ in cases]
    popularity = np.array([models.affinity.popularity(c) for c in PRODUCT_CODES])
    co = np.array([[models.affinity.score(f.held, c)[0] for c in PRODUCT_CODES] for f in facts])
    scores = {
        "propensity": blended(models, facts),
        "co_occurrence": co + 1e-6 * popularity,  # ties (no shared holders) by popularity
        "most_popular": np.tile(popularity, (len(facts), 1)),
    }
    result: dict = {"customers": len(cases)}
    for name, matrix in scores.items():
        hits, precision = 0, 0.0
        for (f, hidden), row in zip(cases, matrix, strict=True):
            ranked = [PRODUCT_CODES[j] for j in np.argsort(-row) if PRODUCT_CODES[j] not in f.held]
            top = ranked[:3]
            if hidden in top:
                hits += 1
                precision += 1.0 / (top.index(hidden) + 1)  # one relevant item: AP = 1/rank
        result[name] = {"map_at_3": precision / max(len(cases), 1),
                        "recall_at_3": hits / max(len(cases), 1)}  # fmt: skip
    return result
