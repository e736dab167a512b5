"""A sparse linear text classifier that runs without scikit-learn.

Models are trained with scikit-learn (``TfidfVectorizer`` + a linear classifier) and exported
to plain arrays: importing scikit-learn alone takes ~1.5 s on our servers, which would break
the start-up budget, and serving needs only a dictionary lookup and a dot product. The export
reproduces sklearn's sublinear TF-IDF with l2 normalisation exactly, so scores match training.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

FORMAT = "kefu.linear/1"


@dataclass(frozen=True)
class LinearTextModel:
    """Features → TF-IDF → ``coef @ x + intercept`` → softmax (or sigmoid for two classes)."""

    feature_set: str  # name of the feature function in kefu.language.features
    vocabulary: dict[str, int]
    idf: np.ndarray  # (n_features,) float32
    coef: np.ndarray  # (n_classes or 1, n_features) float32
    intercept: np.ndarray  # (n_classes or 1,)
    classes: tuple[str, ...]
    meta: dict[str, Any]

    def vector(self, features: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Indices and l2-normalised sublinear TF-IDF values of the known features."""
        # map(dict.get) and Counter keep the per-feature work in C: this is the hot loop.
        counts = Counter(map(self.vocabulary.get, features))
        counts.pop(None, None)
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        val = (1.0 + np.log(tf)) * self.idf[idx]
        norm = float(np.sqrt(np.dot(val, val)))
        return idx, val / norm if norm else val

    def decision(self, features: Iterable[str]) -> np.ndarray:
        idx, val = self.vector(features)
        if idx.size == 0:
            return self.intercept.astype(np.float64)
        return self.coef[:, idx] @ val + self.intercept

    def proba(self, features: Iterable[str]) -> np.ndarray:
        """Class probabilities in the order of ``classes`` (LogisticRegression semantics)."""
        z = self.decision(features).astype(np.float64)
        if len(self.classes) == 2 and z.shape[0] == 1:
            p1 = 1.0 / (1.0 + math.exp(-float(z[0])))
            return np.array([1.0 - p1, p1])
        z = z - z.max()
        e = np.exp(z)
        return e / e.sum()

    def save(self, path: Path) -> None:
        state = {
            "format": FORMAT,
            "feature_set": self.feature_set,
            # Parallel lists pickle smaller and load faster than a dict of 100k entries.
            "terms": sorted(self.vocabulary, key=self.vocabulary.__getitem__),
            "idf": self.idf,
            "coef": self.coef,
            "intercept": self.intercept,
            "classes": list(self.classes),
            "meta": self.meta,
        }
        joblib.dump(state, path, compress=3)

    @classmethod
    def load(cls, path: Path) -> LinearTextModel:
        state = joblib.load(path)
        if state.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} model")
        terms: list[str] = state["terms"]
        return cls(
            feature_set=state["feature_set"],
            vocabulary={t: i for i, t in enumerate(terms)},
            idf=state["idf"],
            coef=state["coef"],
            intercept=state["intercept"],
            classes=tuple(state["classes"]),
            meta=state["meta"],
        )


def from_sklearn(
    vectorizer: Any, classifier: Any, feature_set: str, meta: dict[str, Any]
) -> LinearTextModel:
    """Export a fitted ``TfidfVectorizer(analyzer=fn, sublinear_tf=True)`` + linear classifier.

    Every vocabulary term is kept, even one with tiny weights: its IDF still counts in the
    l2 norm, and dropping it would make served scores drift from the trained ones.
    """
    coef = classifier.coef_
    if hasattr(coef, "toarray"):
        coef = coef.toarray()
    return LinearTextModel(
        feature_set=feature_set,
        vocabulary=dict(vectorizer.vocabulary_),
        idf=np.asarray(vectorizer.idf_, dtype=np.float32),
        coef=np.ascontiguousarray(coef, dtype=np.float32),
        intercept=np.asarray(classifier.intercept_, dtype=np.float64),
        classes=tuple(str(c) for c in classifier.classes_),
        meta=meta,
    )
