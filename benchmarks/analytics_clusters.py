"""Clustering figures (issue #16), in one run:

1. generated traffic with planted behaviour segments (kefu.analytics.clusters.planted: 转账受阻,
   理财浏览, 跳出, 办卡申请), customer features from the event store as the product computes them,
   k chosen by the product's criterion: adjusted Rand index against the planted truth (target
   ≥ 0.8), alone and mixed into a month of ordinary generated traffic (ARI over the planted
   customers); baseline in the same run: the old criterion (silhouette on one sample);
2. ../shared/data/online_shoppers_intention.csv (UCI, 12,330 sessions): purchase rate per
   cluster, its spread against random clusters of the same sizes, and stability (ARI between
   runs) across ``--seeds`` seeds, for the product's criterion and the old one.

    .venv/bin/python benchmarks/analytics_clusters.py [--shoppers PATH] [--seeds 5]

The machine is shared (load average printed): compare times within the run; CPU seconds are
the process's own.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import time
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from kefu.analytics.analyses.period import Period
from kefu.analytics.clusters import cluster, scale
from kefu.analytics.clusters.features import NAMES, customer_features
from kefu.analytics.clusters.planted import plant_segments
from kefu.analytics.generate import generate
from kefu.analytics.store import DuckDBStore

FEATURES = ["Administrative", "Administrative_Duration", "Informational",
            "Informational_Duration", "ProductRelated", "ProductRelated_Duration",
            "BounceRates", "ExitRates", "SpecialDay"]  # fmt: skip
# PageValues is left out on purpose: it is computed from later purchases and leaks the label.
TODAY = date(2026, 12, 6)


def old_criterion(x: np.ndarray, seed: int) -> np.ndarray:
    """The previous choice (baseline): k in 2..8 by silhouette on one random 3,000-row sample
    drawn with the run's seed, then k-means with that seed."""
    z = scale(x)
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= 3000 else z[rng.choice(len(z), 3000, replace=False)]
    best = max(
        range(2, 9),
        key=lambda k: silhouette_score(
            sample, KMeans(k, n_init=4, random_state=seed).fit_predict(sample)
        ),
    )
    return KMeans(best, n_init=4, random_state=seed).fit_predict(z)


def planted(seeds: int) -> None:
    print("== planted segments (150 customers each, 15 % ordinary visits) ==")
    for mixed in (False, True):
        store = DuckDBStore(":memory:", threads=1)
        truth = plant_segments(store, 150, 30, today=TODAY)
        if mixed:
            generate(store, 30, 2000, today=TODAY, seed=3)
        f = customer_features(store, Period.last("demo-bank", 30, TODAY))
        store.close()
        keep = np.array([h in truth for h in f.hashes])
        want = [truth[h] for h in np.array(f.hashes)[keep]]
        what = "mixed into 2,000 ordinary visitors" if mixed else "alone"
        print(f"{what}: {len(f.hashes)} customers ({keep.sum()} planted)")
        runs = []
        for seed in range(seeds):
            t, c = time.perf_counter(), time.process_time()
            got = cluster(f.x, NAMES, seed=seed)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            runs.append(got.assignments)
            ari = adjusted_rand_score(want, got.assignments[keep])
            old = adjusted_rand_score(want, old_criterion(f.x, seed)[keep])
            print(f"  seed {seed}: k={got.k} (stability {got.stability:.3f}, silhouette "
                  f"{got.silhouette:.3f}) ARI vs planted {ari:.3f}  [old criterion {old:.3f}]"
                  f"  {wall:.1f} s wall, {cpu:.1f} s CPU")  # fmt: skip
        for c in cluster(f.x, NAMES, seed=0).clusters:
            print(f"     size {c.size:5d}  {c.label}")
        aris = [adjusted_rand_score(a, b) for a, b in itertools.combinations(runs, 2)]
        print(f"  stability across {seeds} seeds: ARI {min(aris):.3f}..{max(aris):.3f}")


def shoppers(path: Path, seeds: int) -> None:
    print(f"== {path.name} ==")
    if not path.exists():
        print(f"  skipped: {path} is absent")
        return
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))  # the README: ;-separated, header row
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    bought = np.array([r["Revenue"].strip().upper() == "TRUE" for r in rows])
    print(f"{len(x)} sessions, purchase rate {bought.mean():.3f}")
    runs, olds = [], []
    for seed in range(seeds):
        t, c = time.perf_counter(), time.process_time()
        got = cluster(x, FEATURES, seed=seed)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        runs.append(got.assignments)
        olds.append(old_criterion(x, seed))
        rates = [bought[got.assignments == c.index].mean() for c in got.clusters]
        shuffled = np.random.default_rng(seed).permutation(got.assignments)
        base = [bought[shuffled == c.index].mean() for c in got.clusters]
        print(f"  seed {seed}: k={got.k} (stability {got.stability:.3f}, silhouette "
              f"{got.silhouette:.3f}) rate spread {max(rates) - min(rates):.3f} "
              f"(random clusters of the same sizes {max(base) - min(base):.3f}); old criterion "
              f"k={len(set(olds[-1]))}  {wall:.1f} s wall, {cpu:.1f} s CPU")  # fmt: skip
        if seed == 0:
            for cl, r in sorted(zip(got.clusters, rates, strict=True), key=lambda p: -p[1]):
                print(f"     size {cl.size:5d}  purchase rate {r:.3f}  {cl.label}")
    for name, found in (("kefu (stability, then silhouette)", runs), ("old (silhouette)", olds)):
        aris = [adjusted_rand_score(a, b) for a, b in itertools.combinations(found, 2)]
        print(f"  stability across {seeds} seeds, {name}: ARI {min(aris):.3f}..{max(aris):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shoppers", default="../shared/data/online_shoppers_intention.csv")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    planted(args.seeds)
    shoppers(Path(args.shoppers), args.seeds)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
