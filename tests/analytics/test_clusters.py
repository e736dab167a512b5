"""Clustering recovers planted behaviour groups (ARI >= 0.8) and labels them by what sets them
apart."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from kefu.analytics.clusters import cluster

NAMES = ["pages", "seconds", "errors", "form submits"]


def planted(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = [  # browsers, failed applicants, converting applicants
        (rng.poisson(2, (300, 1)), rng.gamma(2, 20, (300, 1)), np.zeros((300, 1)), np.zeros((300, 1))),
        (rng.poisson(5, (200, 1)), rng.gamma(4, 60, (200, 1)), rng.poisson(3, (200, 1)) + 1, np.zeros((200, 1))),
        (rng.poisson(8, (150, 1)), rng.gamma(6, 60, (150, 1)), np.zeros((150, 1)), np.ones((150, 1))),
    ]  # fmt: skip
    x = np.vstack([np.hstack(g) for g in groups])
    truth = np.repeat([0, 1, 2], [300, 200, 150])
    return x, truth


def test_planted_groups_are_recovered_and_labelled() -> None:
    x, truth = planted()
    got = cluster(x, NAMES, seed=0, ks=range(2, 6))
    assert got.k == 3
    assert adjusted_rand_score(truth, got.assignments) >= 0.8
    by_size = {c.size: c for c in got.clusters}
    failing = min(got.clusters, key=lambda c: abs(c.size - 200))
    assert "errors ↑" in failing.label
    assert sorted(by_size) == sorted(c.size for c in got.clusters)
    with pytest.raises(ValueError, match="at least three"):
        cluster(x[:2], NAMES)
