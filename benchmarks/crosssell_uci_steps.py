"""What each step towards AUC 0.81 gave on the UCI bank-marketing TRAIN file, by
cross-validation of that file only (the test file is never read here).

    .venv/bin/python benchmarks/crosssell_uci_steps.py [--folds 5] [--cv shuffled|month]
        [--steps base,features,...]

Every step is scored on the same folds, so the differences are the steps', not the splits'.
`--cv shuffled` (default): stratified, seed 18 — how the shared file's held-out 20 % was drawn
(its row_ids are interleaved with the training file's over the whole period, so the hidden rows
share months with the training rows). `--cv month`: whole months held out (a month is the
tuple emp.var.rate, cons.price.idx, cons.conf.idx, which changes monthly; GroupKFold), so no
label of a scored month is trained on — what a bank's next month looks like; the macro columns
must then extrapolate. `duration` is never read. Steps:

- base: the product's model before this work (UciFeatures, HistGradientBoosting, Platt);
- features: + age bins, contacted before (previous > 0), earlier campaign succeeded,
  month × contact as one category (kefu.crosssell.propensity.RichUciFeatures);
- slow: the same with a slower learning rate and more, smaller leaves (chosen on these folds);
- monotone: + monotone constraints (more earlier contacts and a success before never lower the
  score; more employees in the economy never raise it);
- logistic: the logistic baseline alone;
- blend: the mean of the ranks of `features` trees and the logistic model;
- bag, bag10: the mean of 5 (10) `features` models that differ only in their seed;
- lightgbm, lightgbm3: LightGBM 4 (if installed; not a dependency of kefu) on UciFeatures'
  matrix with native categoricals, learning rate 0.02, 300 rounds, 15 leaves, 50 a leaf,
  row and column subsampling 0.8 — one seed, or the mean rank of three;
- blend_lgbm: the mean rank of lightgbm and the logistic model;
- fixed, fixed300, leaves31: `features` without early stopping (150 rounds; 300 at 0.03) or with
  31 leaves of at least 100 rows.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

from kefu.crosssell import propensity as p

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "bank_marketing_additional_train.csv"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--steps", default="base,features,slow,monotone,logistic,blend")
    parser.add_argument("--cv", choices=["shuffled", "month"], default="shuffled")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} is absent (../shared/data)")
    with args.data.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    y = np.array([r["y"] == "yes" for r in rows], dtype=int)
    steps = args.steps.split(",")
    aucs: dict[str, list[float]] = {s: [] for s in steps}
    if args.cv == "month":
        months = [f"{r['emp.var.rate']}|{r['cons.price.idx']}|{r['cons.conf.idx']}" for r in rows]
        folds = GroupKFold(args.folds).split(rows, y, months)
    else:
        folds = StratifiedKFold(args.folds, shuffle=True, random_state=18).split(rows, y)
    for fold, (tr, te) in enumerate(folds):
        train, test = [rows[i] for i in tr], [rows[i] for i in te]
        scores: dict[str, np.ndarray] = {}
        for step in steps:
            started = time.process_time()
            scores[step] = _score(step, train, y[tr], test, scores)
            aucs[step].append(roc_auc_score(y[te], scores[step]))
            print(f"fold={fold} step={step} auc={aucs[step][-1]:.4f} "
                  f"cpu_s={time.process_time() - started:.1f}", flush=True)  # fmt: skip
    for step in steps:
        print(f"mean step={step} auc={np.mean(aucs[step]):.4f} sd={np.std(aucs[step]):.4f}")


STEP_KWARGS = {
    "slow": p.TUNED,
    "monotone": p.TUNED,
    "fixed": {"early_stopping": False, "max_iter": 150},
    "fixed300": {"early_stopping": False, "max_iter": 300, "learning_rate": 0.03},
    "leaves31": {"max_leaf_nodes": 31, "min_samples_leaf": 100},
}


def _score(step: str, train: list, y: np.ndarray, test: list, done: dict) -> np.ndarray:
    if step == "logistic":
        return p.logistic_baseline(train, y)(test)
    if step == "blend":
        trees = done.get("features")
        if trees is None:
            trees = _score("features", train, y, test, done)
        logistic = done.get("logistic")
        if logistic is None:
            logistic = p.logistic_baseline(train, y)(test)
        return rankdata(trees) + rankdata(logistic)
    if step in ("lightgbm", "lightgbm3"):
        return _lightgbm(train, y, test, seeds=1 if step == "lightgbm" else 3)
    if step == "blend_lgbm":
        trees = done.get("lightgbm")
        trees = _lightgbm(train, y, test, seeds=1) if trees is None else trees
        logistic = done.get("logistic")
        logistic = p.logistic_baseline(train, y)(test) if logistic is None else logistic
        return rankdata(trees) + rankdata(logistic)
    features = p.UciFeatures(train) if step == "base" else p.RichUciFeatures(train)
    if step in ("bag", "bag10"):
        model = p.Bagged(features.categorical, n=5 if step == "bag" else 10)
        model.fit(features.matrix(train), y)
        with p.one_thread():
            return model.predict(features.matrix(test))
    kwargs = STEP_KWARGS.get(step, {})
    monotone = features.monotone if step == "monotone" else None
    model = p.Propensity(features.categorical, monotone=monotone, **kwargs)  # type: ignore[arg-type]
    model.fit(features.matrix(train), y)
    with p.one_thread():
        return model.predict(features.matrix(test))


def _lightgbm(train: list, y: np.ndarray, test: list, *, seeds: int) -> np.ndarray:
    try:
        import lightgbm
    except ImportError:
        raise SystemExit("step lightgbm: pip install lightgbm (not a dependency of kefu)") from None
    features = p.UciFeatures(train)
    categorical = [i for i, c in enumerate(features.categorical) if c]
    x_train, x_test = features.matrix(train), features.matrix(test)
    total = np.zeros(len(test))
    for seed in range(seeds):
        model = lightgbm.LGBMClassifier(
            n_estimators=300, learning_rate=0.02, num_leaves=15, min_child_samples=50,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
            cat_smooth=10, min_data_per_group=50, n_jobs=1, verbose=-1, random_state=seed,
        )  # fmt: skip
        model.fit(x_train, y, categorical_feature=categorical)
        total += rankdata(model.predict_proba(x_test)[:, 1])
    return total


if __name__ == "__main__":
    main()
