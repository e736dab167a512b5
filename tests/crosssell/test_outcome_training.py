"""Recorded outcomes feed retraining: accepted offers raise the product's propensity for
customers like those who accepted (declines lower it); outcomes become one labelled row per
customer and product, the strongest answer winning, "offered" alone no answer."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell.features import vector
from kefu.crosssell.propensity import one_thread
from kefu.crosssell.service import record_outcome
from kefu.crosssell.training import Example, outcome_examples, synthetic_facts, train
from kefu.db.engine import make_engine, make_sessionmaker
from tests.conftest import seed_sync
from tests.crosssell.helpers import TODAY

PRODUCT = "INS-ACC"


def test_accepted_outcomes_move_the_propensity_of_similar_customers() -> None:
    bank = [f for f, _ in synthetic_facts(42, 0, 1000, TODAY)]
    alike = [f for f in bank if 25 <= f.age <= 40 and PRODUCT not in f.held]
    answered, unseen = alike[::2][:150], alike[1::2]
    assert len(unseen) > 50

    def mean_propensity(models) -> float:  # type: ignore[no-untyped-def]
        with one_thread():
            return float(np.mean(models.propensity[PRODUCT].predict(
                np.array([vector(f) for f in unseen]))))  # fmt: skip

    before = mean_propensity(train(bank, max_iter=20, only=frozenset({PRODUCT})))
    accepted = train(
        bank,
        max_iter=20,
        only=frozenset({PRODUCT}),
        outcomes=[Example(f, PRODUCT, 1) for f in answered],
    )
    declined = train(
        bank,
        max_iter=20,
        only=frozenset({PRODUCT}),
        outcomes=[Example(f, PRODUCT, 0) for f in answered],
    )
    assert mean_propensity(accepted) > before + 0.05, (before, mean_propensity(accepted))
    assert mean_propensity(declined) < before
    assert accepted.notes["outcomes"] == str(len(answered))


async def _examples(url: str) -> list[tuple[str, str, int]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as db, db.begin():
            for no, code, outcome in [
                ("C0000000001", PRODUCT, "offered"), ("C0000000001", PRODUCT, "declined"),
                ("C0000000001", PRODUCT, "accepted"), ("C0000000002", PRODUCT, "not_suitable"),
                ("C0000000002", "DEP3M", "interested"), ("C0000000003", PRODUCT, "offered"),
                ("C0000009999", PRODUCT, "accepted"),  # the bank does not have this customer
            ]:  # fmt: skip
                await record_outcome(db, customer_no=no, product_code=code, outcome=outcome,
                                     conversation_id=None, agent_id=None)  # fmt: skip
        async with sessions() as db:
            rows = await outcome_examples(db, SyntheticBank(engine), TODAY)
        return [(e.facts.customer_no, e.product_code, e.label) for e in rows]
    finally:
        await engine.dispose()


@pytest.mark.db
def test_outcomes_become_labelled_rows(db_url: str) -> None:
    seed_sync(db_url, 3)
    assert asyncio.run(_examples(db_url)) == [
        ("C0000000001", PRODUCT, 1),
        ("C0000000002", "DEP3M", 1),
        ("C0000000002", PRODUCT, 0),
    ]
