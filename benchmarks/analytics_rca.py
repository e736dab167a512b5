"""RCA benchmark (issue #16): kefu's root-cause search against baselines on the same instances.

Methods, in one run:
- ``kefu``: kefu.analytics.rca.localise.
- ``adtributor``: a re-implementation of Adtributor (Bhagwan et al., NSDI 2014) written here
  from the paper: per dimension, the values ranked by surprise (JS divergence of the forecast
  and actual shares), taken while each explains >= 10 % of the change, until 67 % is explained;
  the three dimensions of highest total surprise give the causes. One-dimensional by design.
- ``riskloc`` (optional): the authors' MIT-licensed code (github shaido987/riskloc), run in its
  own Python with pandas: ``--riskloc-dir DIR --riskloc-python PY``. It is never imported by
  kefu; it runs in a subprocess that prints its predictions.

Scoring: exact-element TP/FP/FN summed over instances (as in the RiskLoc paper), F1, and the
seconds of the search per instance (median, max; reading the CSV is not counted). The machine
is shared (load is printed): compare the methods' times with each other in the same run.

    .venv/bin/python benchmarks/analytics_rca.py ../shared/data/rca_synthetic_S \\
        --riskloc-dir /tmp/riskloc --riskloc-python /tmp/venv/bin/python
    # unseen instances of the same family:
    .venv/bin/python benchmarks/analytics_rca_family.py /tmp/rca_fam --num 60 --seed 99
    .venv/bin/python benchmarks/analytics_rca.py /tmp/rca_fam ...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from kefu.analytics.rca import Instance
from kefu.analytics.rca.evaluate import Score, evaluate, instance_files, ours, read_truth


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (a + b)


def adtributor(inst: Instance, t_eep: float = 0.1, t_ep: float = 0.67, k: int = 3) -> set[str]:
    f_tot, a_tot = inst.forecast.sum(), inst.actual.sum()
    change = a_tot - f_tot
    if change == 0:
        return set()
    candidates = []
    for j, dim in enumerate(inst.dims):
        size = len(inst.values[j])
        f = np.bincount(inst.codes[:, j], weights=inst.forecast, minlength=size)
        a = np.bincount(inst.codes[:, j], weights=inst.actual, minlength=size)
        ep = (a - f) / change
        surprise = _js(f / f_tot, a / a_tot)
        chosen, explained, total_surprise = [], 0.0, 0.0
        for v in np.argsort(-surprise):
            if ep[v] < t_eep:
                continue
            chosen.append(f"{dim}={inst.values[j][v]}")
            explained += ep[v]
            total_surprise += surprise[v]
            if explained >= t_ep:
                break
        if explained >= t_ep:
            candidates.append((total_surprise, chosen))
    candidates.sort(key=lambda c: -c[0])
    return {e for _, chosen in candidates[:k] for e in chosen}


RISKLOC_DRIVER = textwrap.dedent(
    """
    import json, sys, time, gzip
    import pandas as pd
    sys.path.insert(0, sys.argv[1])
    from algorithms.riskloc import riskloc
    from utils.evaluation import root_cause_postprocessing
    for path in sys.argv[2:]:
        df = pd.read_csv(path)
        attributes = sorted(df.columns.drop(['real', 'predict']).tolist())
        t = time.perf_counter()
        rc = riskloc(df, attributes, derived=False)
        took = time.perf_counter() - t
        pred = [str(x) for x in root_cause_postprocessing(rc, 'riskloc')]
        print(json.dumps({"path": path, "pred": pred, "seconds": took}), flush=True)
    """
)


def run_riskloc(directory: Path, riskloc_dir: Path, python: str) -> Score:
    truth = read_truth(directory)
    files = instance_files(directory)
    paths = [str(files[name]) for name in truth]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [python, "-c", RISKLOC_DRIVER, str(riskloc_dir), *paths],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    by_path = {}
    for line in out.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            by_path[rec["path"]] = rec
    score = Score()
    for name, expected in truth.items():
        rec = by_path[str(files[name])]
        score.add(set(rec["pred"]), expected, rec["seconds"])
    return score


def line(name: str, s: Score) -> str:
    sec = s.seconds or [0.0]
    return (
        f"{name:11s} F1 {s.f1:.3f}  P {s.precision:.3f}  R {s.recall:.3f}  "
        f"(TP {s.tp} FP {s.fp} FN {s.fn})  s/instance median {statistics.median(sec):.2f} "
        f"max {max(sec):.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="RCA: kefu vs baselines on the same instances")
    ap.add_argument("directories", nargs="+", type=Path)
    ap.add_argument("--riskloc-dir", type=Path)
    ap.add_argument("--riskloc-python", default=sys.executable)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    for directory in args.directories:
        n = len(read_truth(directory))
        print(f"\n{directory} ({n} instances)")
        print(line("kefu", evaluate(directory, ours)))
        print(line("adtributor", evaluate(directory, adtributor)))
        if args.riskloc_dir:
            print(line("riskloc", run_riskloc(directory, args.riskloc_dir, args.riskloc_python)))


if __name__ == "__main__":
    main()
