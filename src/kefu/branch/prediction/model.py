"""The learned wait model: scikit-learn's HistGradientBoostingRegressor with absolute-error
loss. Why this one: it is already a dependency (no LightGBM native library to ship), it is as
good as LightGBM at a few tens of thousands of rows (the same histogram algorithm), handles
the features' mixed scales without preprocessing, and the absolute-error loss targets the MAE
we are judged on (waits are skewed: squared error would chase the few very long ones)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from kefu.branch.prediction.features import CATEGORICAL, FEATURES, QueueState

SHIPPED = Path(__file__).parent / "data" / "branch_wait.joblib"


class WaitModel:
    def __init__(self, regressor: HistGradientBoostingRegressor) -> None:
        self.regressor = regressor

    @classmethod
    def train(
        cls, states: list[QueueState], waits: list[float], *, seed: int = 7, iterations: int = 300
    ) -> WaitModel:
        if len(states) < 20:
            raise ValueError(f"too few examples to train on: {len(states)}")
        regressor = HistGradientBoostingRegressor(
            loss="absolute_error", max_iter=iterations, learning_rate=0.05, max_leaf_nodes=31,
            min_samples_leaf=20, l2_regularization=1.0, random_state=seed,
            categorical_features=CATEGORICAL,
        )  # fmt: skip
        # One thread: OpenMP's default (every core) is slower at this size on a shared machine
        # and a web process must not take every core for one prediction.
        with threadpool_limits(limits=1):
            regressor.fit(np.array([s.vector() for s in states]), np.array(waits))
        return cls(regressor)

    def predict(self, states: list[QueueState]) -> list[float]:
        if not states:
            return []
        with threadpool_limits(limits=1):
            out = self.regressor.predict(np.array([s.vector() for s in states]))
        return [max(0.0, float(v)) for v in out]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"features": FEATURES, "regressor": self.regressor}, path, compress=3)

    @classmethod
    def load(cls, path: Path = SHIPPED) -> WaitModel:
        saved = joblib.load(path)
        if saved["features"] != FEATURES:
            raise ValueError(f"{path} was trained on other features; retrain it")
        return cls(saved["regressor"])
