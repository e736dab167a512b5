"""The synthetic bank's planted affinities are there and recoverable; the product's ranking
finds hidden next products better than "most popular" (small sizes; full figures in
benchmarks/crosssell_recommend.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.crosssell.training import Models, recommendation_eval, synthetic_facts, train
from tests.crosssell.helpers import TODAY


@pytest.fixture(scope="module")
def bank() -> list:  # type: ignore[type-arg]
    return list(synthetic_facts(42, 0, 2000, TODAY))


def test_car_loan_brings_car_insurance(bank: list) -> None:  # type: ignore[type-arg]
    with_loan = [f for f, _ in bank if "LOAN-CAR" in f.held]
    without = [f for f, _ in bank if "LOAN-CAR" not in f.held]
    share = sum("INS-CAR" in f.held for f in with_loan) / len(with_loan)
    base = sum("INS-CAR" in f.held for f in without) / len(without)
    assert share > 0.6 and base < 0.15, (share, base)


def test_generation_is_deterministic(bank: list) -> None:  # type: ignore[type-arg]
    again = list(synthetic_facts(42, 0, 300, TODAY))
    assert [order for _, order in again] == [order for _, order in bank[:300]]


def test_ranking_beats_most_popular_on_unseen_customers(bank: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    models = train([f for f, _ in bank], max_iter=20)
    models.save(tmp_path / "m.joblib")
    loaded = Models.load(tmp_path / "m.joblib")
    result = recommendation_eval(loaded, list(synthetic_facts(42, 500_000, 800, TODAY)))
    assert result["customers"] > 100
    assert result["propensity"]["recall_at_3"] > result["most_popular"]["recall_at_3"] + 0.1


def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    import joblib

    joblib.dump({"not": "models"}, tmp_path / "x.joblib")
    with pytest.raises(ValueError, match="not a cross-selling model file"):
        Models.load(tmp_path / "x.joblib")
