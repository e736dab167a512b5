"""The propensity model: gradient-boosted trees (scikit-learn's HistGradientBoosting, the same
algorithm as LightGBM, without a native dependency) on engineered features, calibrated with
Platt scaling on a part of the training data the trees never saw.

Why boosted trees: the signals are interactions (a car loan *and* no car insurance; a salary
account *and* a risk assessment) and thresholds (age, months since last contact) that trees
find without hand-made crosses. Why calibrated: arbitration multiplies propensity by margin,
so a score must be a probability, not only a ranking; Platt scaling (sigmoid) keeps the trees'
ranking (AUC unchanged) and needs far fewer rows than isotonic regression.

``kefu crosssell eval`` trains this class on the UCI bank-marketing file shape; the product
trains one per product on the bank's own customers (kefu.crosssell.training).
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

CALIBRATION_SHARE = 0.15


class Propensity:
    """Boosted trees + Platt calibration. ``categorical``: which columns hold category codes."""

    def __init__(
        self,
        categorical: Sequence[bool],
        *,
        max_iter: int = 300,
        seed: int = 0,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        monotone: Sequence[int] | None = None,
        early_stopping: bool | str = "auto",
    ) -> None:
        self.trees = HistGradientBoostingClassifier(
            categorical_features=list(categorical) if any(categorical) else None,
            learning_rate=learning_rate,
            max_iter=max_iter,
            max_leaf_nodes=max_leaf_nodes,
            min_samples_leaf=min_samples_leaf,
            l2_regularization=1.0,
            monotonic_cst=list(monotone) if monotone is not None else None,
            early_stopping=early_stopping,
            random_state=seed,
        )
        self.seed = seed
        self.calibrated: CalibratedClassifierCV | None = None

    def fit(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> Propensity:
        """``weight``: per row (recorded outcomes weigh more than a synthetic row)."""
        weight = np.ones(len(y)) if weight is None else weight
        fit_x, cal_x, fit_y, cal_y, fit_w, cal_w = train_test_split(
            x, y, weight, test_size=CALIBRATION_SHARE, stratify=y, random_state=self.seed
        )
        # One thread: OpenMP's default (every core) is slower at these sizes on a shared
        # machine, and a web process must not take every core for one customer's scores.
        with threadpool_limits(limits=1):
            self.trees.fit(fit_x, fit_y, sample_weight=fit_w)
            self.calibrated = CalibratedClassifierCV(FrozenEstimator(self.trees), method="sigmoid")
            with warnings.catch_warnings():
                # The frozen trees take no weights, rightly (they are fitted); the sigmoid does.
                warnings.filterwarnings("ignore", message="Since FrozenEstimator")
                self.calibrated.fit(cal_x, cal_y, sample_weight=cal_w)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Callers hold ``one_thread()`` around their predictions (entering it costs more than
        one row's prediction, so once per request, not once per model)."""
        assert self.calibrated is not None, "fit first"
        # Platt's sigmoid on the trees' log-odds, as CalibratedClassifierCV computes it, without
        # its input checks: those cost twice the prediction itself for one customer's row.
        sigmoid = self.calibrated.calibrated_classifiers_[0].calibrators[0]
        return expit(-(sigmoid.a_ * self.trees.decision_function(x) + sigmoid.b_))


class Bagged:
    """The mean of ``n`` Propensity models that differ only in their seed (so in the rows each
    one keeps aside for early stopping and calibration): less variance, the same features."""

    def __init__(self, categorical: Sequence[bool], *, n: int = 5, **kwargs: object) -> None:
        self.members = [Propensity(categorical, seed=i, **kwargs) for i in range(n)]  # type: ignore[arg-type]

    def fit(self, x: np.ndarray, y: np.ndarray) -> Bagged:
        for member in self.members:
            member.fit(x, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(x) for m in self.members], axis=0)


def one_thread() -> threadpool_limits:
    """OpenMP on one thread for what runs inside (see Propensity.fit for why)."""
    return threadpool_limits(limits=1)


# --- the UCI bank-marketing file shape (Moro et al. 2014), for `kefu crosssell eval` ---------

UCI_CATEGORICAL = ["job", "marital", "education", "default", "housing", "loan", "contact",
                   "month", "day_of_week", "poutcome"]  # fmt: skip
UCI_NUMERIC = ["age", "campaign", "pdays", "previous", "emp.var.rate", "cons.price.idx",
               "cons.conf.idx", "euribor3m", "nr.employed"]  # fmt: skip
NEVER_CONTACTED = 999  # pdays' code for "not contacted in an earlier campaign"
# `duration` (the call's length) is known only after the call and leaks the answer: never read.
LEAKING = "duration"


class BadFile(ValueError):
    """The file cannot be read as the bank-marketing shape (names the column or row)."""


@dataclass
class UciData:
    rows: list[dict[str, str]]
    y: np.ndarray


def read_uci(path: Path) -> UciData:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter=";")
            missing = [c for c in [*UCI_CATEGORICAL, *UCI_NUMERIC, "y"]
                       if c not in (reader.fieldnames or [])]  # fmt: skip
            if missing:
                raise BadFile(f"{path}: missing column(s) {', '.join(missing)}")
            rows = list(reader)
    except OSError as exc:
        raise BadFile(f"{path}: {exc.strerror}") from None
    labels = []
    for number, row in enumerate(rows, start=2):
        if row["y"] not in ("yes", "no"):
            raise BadFile(f"{path} line {number}: y must be yes or no, not {row['y']!r}")
        labels.append(row["y"] == "yes")
    if len(set(labels)) < 2:
        raise BadFile(f"{path}: y needs both yes and no rows")
    return UciData(rows, np.array(labels, dtype=int))


class UciFeatures:
    """Engineered features: the raw fields, "never contacted before" apart from the days since,
    days since capped (999 is a code, not a distance), log of this campaign's contacts, and
    category codes learnt from the training file (unseen values → missing)."""

    def __init__(self, train: list[dict[str, str]]) -> None:
        self.vocab = {c: {v: i for i, v in enumerate(sorted({r[c] for r in train}))}
                      for c in UCI_CATEGORICAL}  # fmt: skip

    @property
    def categorical(self) -> list[bool]:
        return [False] * (len(UCI_NUMERIC) + 3) + [True] * len(UCI_CATEGORICAL)

    def matrix(self, rows: list[dict[str, str]]) -> np.ndarray:
        out = np.empty((len(rows), len(UCI_NUMERIC) + 3 + len(UCI_CATEGORICAL)))
        for i, row in enumerate(rows):
            try:
                numbers = [float(row[c]) for c in UCI_NUMERIC]
            except ValueError:
                bad = next(c for c in UCI_NUMERIC if not _is_number(row[c]))
                raise BadFile(f"row {i + 1}: {bad} is not a number: {row[bad]!r}") from None
            pdays = float(row["pdays"])
            never = pdays == NEVER_CONTACTED
            extra = [
                float(never),
                -1.0 if never else min(pdays, 30.0),
                math.log1p(float(row["campaign"])),
            ]
            codes = [float(self.vocab[c].get(row[c], np.nan)) for c in UCI_CATEGORICAL]
            out[i] = numbers + extra + codes
        return out


class RichUciFeatures(UciFeatures):
    """UciFeatures and a few crosses written out: age bins (the literature's young/old
    response), contacted in an earlier campaign, that campaign succeeded, and month × contact
    (cellular calls in the spring months answer differently) as one category."""

    AGE_BINS = (25, 30, 40, 50, 60)

    def __init__(self, train: list[dict[str, str]]) -> None:
        super().__init__(train)
        self.crosses = {v: i for i, v in enumerate(sorted({_cross(r) for r in train}))}

    @property
    def categorical(self) -> list[bool]:
        return super().categorical + [False, False, False, True]

    @property
    def monotone(self) -> list[int]:
        """+1: never lowers the score as it grows; -1: never raises it; 0: free."""
        sign = {"campaign": -1, "previous": 1, "nr.employed": -1}
        base = [sign.get(c, 0) for c in UCI_NUMERIC] + [0, 0, -1] + [0] * len(UCI_CATEGORICAL)
        return base + [0, 1, 1, 0]

    def matrix(self, rows: list[dict[str, str]]) -> np.ndarray:
        base = super().matrix(rows)
        extra = np.array(
            [
                [
                    float(np.searchsorted(self.AGE_BINS, float(r["age"]), side="right")),
                    float(float(r["previous"]) > 0),
                    float(r["poutcome"] == "success"),
                    float(self.crosses.get(_cross(r), np.nan)),
                ]
                for r in rows
            ]
        ).reshape(len(rows), 4)
        return np.hstack([base, extra])


def _cross(row: dict[str, str]) -> str:
    return f"{row['month']}|{row['contact']}"


# Chosen by cross-validation of the training file (benchmarks/crosssell_uci_steps.py).
TUNED = {"learning_rate": 0.02, "max_iter": 800, "max_leaf_nodes": 8, "min_samples_leaf": 80}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def logistic_baseline(
    train: list[dict[str, str]], y: np.ndarray
) -> Callable[[list[dict[str, str]]], np.ndarray]:
    """One-hot categories + standardised numbers into a logistic regression (the literature's
    baseline on this data)."""
    encoder = OneHotEncoder(handle_unknown="ignore")
    scaler = StandardScaler()
    cats = np.array([[r[c] for c in UCI_CATEGORICAL] for r in train])
    scaler.fit(np.array([[float(r[c]) for c in UCI_NUMERIC] for r in train]))
    encoder.fit(cats)

    def matrix(rows: list[dict[str, str]]) -> np.ndarray:
        c = encoder.transform(np.array([[r[k] for k in UCI_CATEGORICAL] for r in rows])).toarray()
        n = scaler.transform(np.array([[float(r[k]) for k in UCI_NUMERIC] for r in rows]))
        return np.hstack([n, c])

    model = LogisticRegression(max_iter=2000).fit(matrix(train), y)
    return lambda rows: model.predict_proba(matrix(rows))[:, 1]


def evaluate_uci(
    train_path: Path, test_path: Path, *, max_iter: int = 300, bag: int = 5
) -> dict[str, float]:
    """Trains on ``train_path`` only and scores ``test_path``: the product's model and the
    logistic-regression baseline, AUC and average precision each. (``max_iter``: fewer trees
    for the tests' small files.)"""
    train, test = read_uci(train_path), read_uci(test_path)
    # Chosen by cross-validation of the training file only (benchmarks/crosssell_uci_steps.py):
    # the written-out crosses and a bag of five seeds beat the plain features on 4 of 5 folds.
    features = RichUciFeatures(train.rows)
    model = Bagged(features.categorical, n=bag, max_iter=max_iter).fit(
        features.matrix(train.rows), train.y
    )
    with one_thread():
        scores = model.predict(features.matrix(test.rows))
    baseline = logistic_baseline(train.rows, train.y)(test.rows)
    return {
        "auc": float(roc_auc_score(test.y, scores)),
        "average_precision": float(average_precision_score(test.y, scores)),
        "baseline_auc": float(roc_auc_score(test.y, baseline)),
        "baseline_average_precision": float(average_precision_score(test.y, baseline)),
        "train_rows": len(train.rows),
        "test_rows": len(test.rows),
    }
