"""Clustering figures (issue #16) on ../shared/data/online_shoppers_intention.csv (UCI, 12,330
sessions): k chosen by silhouette, purchase rate per cluster (separation: the spread between
the best and worst cluster against the overall rate) and stability (adjusted Rand index
between runs with different seeds). Baseline in the same run: random assignment to the same
cluster sizes (its purchase-rate spread is what chance gives).

    .venv/bin/python benchmarks/analytics_clusters.py [PATH]
"""

from __future__ import annotations

import csv
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from kefu.analytics.clusters import cluster

FEATURES = ["Administrative", "Administrative_Duration", "Informational",
            "Informational_Duration", "ProductRelated", "ProductRelated_Duration",
            "BounceRates", "ExitRates", "SpecialDay"]  # fmt: skip
# PageValues is left out on purpose: it is computed from later purchases and leaks the label.


def main() -> None:
    path = Path(
        sys.argv[1] if len(sys.argv) > 1 else "../shared/data/online_shoppers_intention.csv"
    )
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))  # the README: ;-separated, header row
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    bought = np.array([r["Revenue"].strip().upper() == "TRUE" for r in rows])
    print(f"{len(x)} sessions, purchase rate {bought.mean():.3f}")
    runs = []
    for seed in range(3):
        t = time.perf_counter()
        got = cluster(x, FEATURES, seed=seed)
        runs.append(got.assignments)
        rates = [bought[got.assignments == c.index].mean() for c in got.clusters]
        print(f"seed {seed}: k={got.k} silhouette {got.silhouette:.3f} "
              f"({time.perf_counter() - t:.1f} s)")  # fmt: skip
        for c, r in sorted(zip(got.clusters, rates, strict=True), key=lambda p: -p[1]):
            print(f"   size {c.size:5d}  purchase rate {r:.3f}  {c.label}")
        rng = np.random.default_rng(seed)
        shuffled = rng.permutation(got.assignments)
        base = [bought[shuffled == c.index].mean() for c in got.clusters]
        print(f"   rate spread max-min {max(rates) - min(rates):.3f} "
              f"(random clusters of the same sizes: {max(base) - min(base):.3f})")  # fmt: skip
    aris = [adjusted_rand_score(a, b) for a, b in itertools.combinations(runs, 2)]
    print(f"stability across seeds: ARI {min(aris):.3f}..{max(aris):.3f}")


if __name__ == "__main__":
    main()
