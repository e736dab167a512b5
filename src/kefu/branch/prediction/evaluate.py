"""Scoring the methods on the same customers: MAE and RMSE in seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kefu.branch.prediction.baselines import erlang_c_wait
from kefu.branch.prediction.features import QueueState
from kefu.branch.prediction.model import WaitModel


@dataclass(frozen=True)
class Score:
    method: str
    n: int
    mae: float
    rmse: float


def score(method: str, predicted: list[float], actual: list[float]) -> Score:
    if not actual or len(predicted) != len(actual):
        raise ValueError("nothing to score, or predictions and waits differ in number")
    errors = [p - a for p, a in zip(predicted, actual, strict=True)]
    return Score(method, len(errors), sum(abs(e) for e in errors) / len(errors),
                 math.sqrt(sum(e * e for e in errors) / len(errors)))  # fmt: skip


def erlang(states: list[QueueState]) -> list[float]:
    return [erlang_c_wait(s.servers, s.arrivals_30min / 1800, s.mean_service) for s in states]


def compare(
    train: tuple[list[QueueState], list[float]],
    test: tuple[list[QueueState], list[float]],
    *,
    iterations: int = 300,
) -> tuple[list[Score], WaitModel]:
    model = WaitModel.train(*train, iterations=iterations)
    states, waits = test
    return [
        score("rule", [s.rule for s in states], waits),
        score("erlang_c", erlang(states), waits),
        score("last_wait", [max(s.last_wait, 0.0) for s in states], waits),
        score("gbm", model.predict(states), waits),
    ], model
