"""Behaviour clustering (issue #16): k-means on standardised features, the number of clusters
chosen by silhouette among the k that are *stable*, and readable labels from the most
distinguishing features.

Why k-means on standardised, log-compressed features: the features are counts, durations and
shares whose scales differ by orders of magnitude; log1p and z-scoring put them on one scale
and k-means then finds compact groups fast on 10^5 rows.

Why stability as well as silhouette: silhouette alone, measured on one random sample, picked
k = 2 with one seed and k = 5 with another on the UCI shoppers (two partitions with close
silhouettes; which one wins depends on the sample). A k is kept only when its clustering
comes back the same from different halves of the data (Ben-Hur et al. 2002; Lange et al.
2004): for each k, ``PAIRS`` pairs of random half-samples are clustered independently, each
model assigns the whole (sampled) data, and the adjusted Rand index between the two
assignments is the agreement; the stability of k is the mean over the pairs. Among the k
with stability ≥ ``STABLE`` the one with the best mean silhouette (over the same halves) is
chosen; when none is stable, the most stable k. The halves come from a generator seeded with
a fixed number, not the caller's seed, so the choice of k does not depend on the seed at all;
the caller's seed only starts the final k-means (which, with ``N_INIT`` starts, lands on the
same partition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

SAMPLE = 3000  # rows on which k is chosen (a fixed random sample when there are more)
PAIRS = 4  # pairs of half-samples per k
STABLE = 0.8  # mean ARI between the halves' clusterings for a k to count as stable
N_INIT = 8
SILHOUETTE = 1000  # rows the silhouette of a half is measured on
_CHOICE_SEED = 20_260_616  # the halves' generator: fixed, so k does not move with the seed


@dataclass(frozen=True)
class Cluster:
    index: int  # 0 = the largest cluster
    size: int
    label: str  # the top distinguishing features, e.g. "errors ↑ · form submits ↓"
    profile: dict[str, float]  # mean of each feature
    lift: dict[str, float]  # standardised centre of each feature (how far from everyone)


@dataclass(frozen=True)
class KScore:
    k: int
    silhouette: float
    stability: float


@dataclass(frozen=True)
class Clustering:
    k: int
    silhouette: float  # of the chosen k (nan when k was given)
    stability: float  # of the chosen k (nan when k was given)
    assignments: np.ndarray  # cluster index per row
    clusters: list[Cluster]
    scores: list[KScore]  # every k tried, for the page and the docs


def scale(x: np.ndarray) -> np.ndarray:
    z = np.log1p(np.maximum(x, 0.0))
    sd = z.std(axis=0)
    return (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def score_k(z: np.ndarray, k: int, rng: np.random.Generator) -> KScore:
    """Stability and silhouette of ``k`` over ``PAIRS`` pairs of disjoint half-samples."""
    aris, sils = [], []
    half = len(z) // 2
    for _ in range(PAIRS):
        order = rng.permutation(len(z))
        a, b = order[:half], order[half : 2 * half]
        seeds = rng.integers(0, 2**31 - 1, 2)
        ma = KMeans(k, n_init=2, random_state=int(seeds[0])).fit(z[a])
        mb = KMeans(k, n_init=2, random_state=int(seeds[1])).fit(z[b])
        aris.append(adjusted_rand_score(ma.predict(z), mb.predict(z)))
        if len(set(ma.labels_)) > 1:  # one half suffices; silhouette is quadratic in rows
            sils.append(silhouette_score(z[a], ma.labels_, sample_size=min(len(a), SILHOUETTE),
                                         random_state=int(seeds[0])))  # fmt: skip
    return KScore(k, float(np.mean(sils)) if sils else -1.0, float(np.mean(aris)))


def choose_k(z: np.ndarray, ks: range) -> tuple[int, list[KScore]]:
    rng = np.random.default_rng(_CHOICE_SEED)
    sample = z if len(z) <= SAMPLE else z[rng.choice(len(z), SAMPLE, replace=False)]
    scores = [score_k(sample, k, rng) for k in ks if k < len(sample) // 2]
    if not scores:
        return ks[0], []
    stable = [s for s in scores if s.stability >= STABLE]
    best = (
        max(stable, key=lambda s: s.silhouette)
        if stable
        else max(scores, key=lambda s: s.stability)
    )
    return best.k, scores


def cluster(
    features: np.ndarray, names: list[str], *, k: int | None = None, seed: int = 0,
    ks: range = range(2, 9),
) -> Clustering:  # fmt: skip
    """Cluster rows of ``features`` (columns named ``names``); clusters are numbered by size."""
    if len(features) < 3:
        raise ValueError("at least three rows are needed to cluster")
    x = np.asarray(features, dtype=float)
    z = scale(x)
    scores: list[KScore] = []
    # one thread: the server runs this beside requests, and on a busy machine OpenMP's
    # threads cost several times the CPU for the same answer
    with threadpool_limits(1):
        if k is None:
            k, scores = choose_k(z, ks)
        k = max(1, min(k, len(z)))
        raw = KMeans(k, n_init=N_INIT, random_state=seed).fit_predict(z)
    # number clusters by size (then by their centre), so that two runs name them alike
    order = sorted(range(k), key=lambda c: (-int((raw == c).sum()), tuple(z[raw == c].mean(0))))
    renumber = np.empty(k, dtype=int)
    renumber[order] = np.arange(k)
    labels = renumber[raw]
    clusters = []
    for c in range(k):
        members = labels == c
        centre = z[members].mean(axis=0)
        top = [i for i in np.argsort(-np.abs(centre))[:3] if abs(centre[i]) >= 0.25]
        label = " · ".join(f"{names[i]} {'↑' if centre[i] > 0 else '↓'}" for i in top)
        profile = {n: float(v) for n, v in zip(names, x[members].mean(axis=0), strict=True)}
        lift = {n: float(v) for n, v in zip(names, centre, strict=True)}
        clusters.append(Cluster(c, int(members.sum()), label or "—", profile, lift))
    chosen = next((s for s in scores if s.k == k), None)
    return Clustering(
        k,
        chosen.silhouette if chosen else float("nan"),
        chosen.stability if chosen else float("nan"),
        labels,
        clusters,
        scores,
    )
