"""Propensity AUC on the UCI bank-marketing file (../shared/data), on splits never trained on.

    .venv/bin/python benchmarks/crosssell_uci.py [--folds 5]

The file is split at random into --folds parts (stratified, seeded); each part is scored by a
model trained on the others — the product's boosted trees (calibrated) and the logistic
baseline in the same run, through the same code as `kefu crosssell eval`. Prints each fold
and the mean. `duration` is never read.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from kefu.crosssell.propensity import evaluate_uci

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "bank_marketing_additional_train.csv"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} is absent (../shared/data)")
    header, *rows = args.data.read_text(encoding="utf-8").splitlines()
    random.Random(18).shuffle(rows)
    totals: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fold in range(args.folds):
            test = rows[fold :: args.folds]
            train = [r for i, r in enumerate(rows) if i % args.folds != fold]
            tr, te = Path(tmp) / "train.csv", Path(tmp) / "test.csv"
            tr.write_text("\n".join([header, *train]) + "\n", encoding="utf-8")
            te.write_text("\n".join([header, *test]) + "\n", encoding="utf-8")
            result = evaluate_uci(tr, te)
            print(f"fold={fold} " + " ".join(f"{k}={v:.4f}" for k, v in result.items()
                                             if isinstance(v, float)))  # fmt: skip
            for key, value in result.items():
                totals[key] = totals.get(key, 0.0) + value
    print("mean " + " ".join(f"{k}={v / args.folds:.4f}" for k, v in totals.items()
                              if not k.endswith("rows")))  # fmt: skip


if __name__ == "__main__":
    main()
