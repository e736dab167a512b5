"""Behaviour clustering (issue #16): session features from the event store, k-means with the
number of clusters chosen by silhouette, and readable labels from the most distinguishing
features.

Why k-means on standardised, log-compressed features: the features are counts, durations and
shares whose scales differ by orders of magnitude; log1p and z-scoring put them on one scale
and k-means then finds compact groups fast on 10^5 sessions (one pass per k). The number of
clusters is the k in [2, 8] with the best silhouette on a sample (at most 3,000 sessions, so
choosing k stays cheap); stability across seeds is measured in benchmarks/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

SAMPLE = 3000


@dataclass(frozen=True)
class Cluster:
    index: int
    size: int
    label: str  # the top distinguishing features, e.g. "errors ↑ · form submits ↓"
    profile: dict[str, float]  # mean of each feature


@dataclass(frozen=True)
class Clustering:
    k: int
    silhouette: float
    assignments: np.ndarray
    clusters: list[Cluster]


def _scale(x: np.ndarray) -> np.ndarray:
    z = np.log1p(np.maximum(x, 0.0))
    sd = z.std(axis=0)
    return (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def choose_k(z: np.ndarray, ks: range, seed: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= SAMPLE else z[rng.choice(len(z), SAMPLE, replace=False)]
    best = (ks[0], -1.0)
    for k in ks:
        if k >= len(sample):
            break
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(sample)
        if len(set(labels)) < 2:
            continue
        s = float(silhouette_score(sample, labels))
        if s > best[1]:
            best = (k, s)
    return best


def cluster(
    features: np.ndarray, names: list[str], *, k: int | None = None, seed: int = 0,
    ks: range = range(2, 9),
) -> Clustering:  # fmt: skip
    """Cluster rows of ``features`` (columns named ``names``)."""
    if len(features) < 3:
        raise ValueError("at least three sessions are needed to cluster")
    z = _scale(np.asarray(features, dtype=float))
    silhouette = float("nan")
    if k is None:
        k, silhouette = choose_k(z, ks, seed)
    model = KMeans(k, n_init=4, random_state=seed).fit(z)
    labels = model.labels_
    clusters = []
    for c in range(k):
        members = labels == c
        centre = z[members].mean(axis=0)
        top = np.argsort(-np.abs(centre))[:3]
        label = " · ".join(f"{names[i]} {'↑' if centre[i] > 0 else '↓'}" for i in top)
        profile = {n: float(v) for n, v in zip(names, features[members].mean(axis=0), strict=True)}
        clusters.append(Cluster(c, int(members.sum()), label, profile))
    return Clustering(k, silhouette, labels, clusters)
