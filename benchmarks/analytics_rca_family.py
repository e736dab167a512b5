"""Generate RCA instances of the family of RiskLoc's data set S, written from its description
(../shared/data/README.md and the paper, arXiv 2205.10004), so the method can be measured on
instances it was never looked at on.

Family: dimensions a..e of sizes 10, 12, 10, 8, 5 (48,000 leaves, all combinations); leaf values
Weibull(alpha in [0.5, 1]) x 100; a share of leaves (0-25 %) set to zero; the forecast carries a
relative Gaussian error (noise level 0-25 %) and on a random half of the leaves the roles of
actual and forecast are swapped (so the error is symmetric); 1-3 anomalies, each at a random
layer 1-5 (a random set of dimensions, never reused by another anomaly above the leaf layer,
never overlapping another anomaly's values in a shared dimension) with 1-3 elements; every leaf
of an anomaly is moved by a factor (1 - r), r ~ N(severity, deviation), severity in [0.2, 1] +
the noise level, deviation in [0, 0.1]; the direction follows the sign of the normal error so
the anomaly is not cancelled by it. The truth goes to injection_info.csv as ``a=a3&e=e1;...``.

    .venv/bin/python benchmarks/analytics_rca_family.py OUTDIR --num 50 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from pathlib import Path

import numpy as np

SIZES = {"a": 10, "b": 12, "c": 10, "d": 8, "e": 5}


def _anomalies(rng: np.random.Generator, real: np.ndarray, grid: np.ndarray, count: int):
    """[(dims, [element codes per element])] honouring the family's non-overlap rules."""
    names = list(SIZES)
    out: list[tuple[list[int], list[tuple[int, ...]]]] = []
    for _ in range(count):
        for _attempt in range(200):
            layer = int(rng.integers(1, len(names) + 1))
            n_el = int(rng.integers(1, 4))
            dims = sorted(rng.choice(len(names), size=layer, replace=False).tolist())
            if layer < len(names) and any(d == dims for d, _ in out):
                continue
            choices = []
            for d in dims:
                used = {el[od.index(d)] for od, els in out if d in od for el in els}
                free = [v for v in range(SIZES[names[d]]) if v not in used]
                if not free:
                    break
                choices.append(rng.choice(free, size=n_el, replace=True))
            else:
                elements = list({tuple(int(c[i]) for c in choices) for i in range(n_el)})
                if len(elements) < n_el:
                    continue
                if layer == len(names):  # a leaf anomaly on a zero leaf could never be found
                    idx = [int(np.ravel_multi_index(e, grid)) for e in elements]
                    if (real[idx] == 0).any():
                        continue
                out.append((dims, elements))
                break
    return out


def generate(rng: np.random.Generator):
    names = list(SIZES)
    grid = tuple(SIZES.values())
    codes = np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid), axis=1)
    zero_rate = rng.uniform(0.0, 0.25)
    noise = rng.uniform(0.0, 0.25)
    alpha = rng.uniform(0.5, 1.0)
    real = rng.weibull(alpha, len(codes)) * 100
    real *= rng.uniform(size=len(codes)) > zero_rate
    predict = real * (1 + rng.normal(0, noise, len(codes)))
    swap = rng.integers(0, 2, len(codes)) == 1
    real, predict = np.where(swap, predict, real), np.where(swap, real, predict)
    predict = np.maximum(predict, 0.0)
    anomalies = _anomalies(rng, real, np.array(grid), int(rng.integers(1, 4)))
    lower_actual = real.sum() <= predict.sum()
    labels = []
    for dims, elements in anomalies:
        severity = rng.uniform(0.2, 1.0) + noise
        deviation = rng.uniform(0.0, 0.1)
        mask = np.zeros(len(codes), dtype=bool)
        for el in elements:
            mask |= np.all(codes[:, dims] == np.array(el), axis=1)
            labels.append(
                "&".join(f"{names[d]}={names[d]}{v + 1}" for d, v in zip(dims, el, strict=True))
            )
        r = rng.normal(severity, deviation, mask.sum())
        if lower_actual:
            real[mask] = np.maximum(predict[mask] * (1 - r), 0.0)
        else:
            predict[mask] = np.maximum(real[mask] * (1 - r), 0.0)
    return names, codes, real, predict, ";".join(labels)


def write(outdir: Path, num: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    info = [("timestamp", "set")]
    for i in range(num):
        names, codes, real, predict, label = generate(rng)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([*names, "real", "predict"])
        for row, r, p in zip(codes.tolist(), real.tolist(), predict.tolist(), strict=True):
            w.writerow(
                [*(f"{n}{v + 1}" for n, v in zip(names, row, strict=True)), repr(r), repr(p)]
            )
        name = f"{seed}{i:04d}"
        (outdir / f"{name}.csv.gz").write_bytes(gzip.compress(buf.getvalue().encode()))
        info.append((name, label))
    with (outdir / "injection_info.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(info)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--num", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    write(args.outdir, args.num, args.seed)


if __name__ == "__main__":
    main()
