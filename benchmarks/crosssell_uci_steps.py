"""What each step towards AUC 0.81 gave on the UCI bank-marketing TRAIN file, by
cross-validation of that file only (the test file is never read here).

    .venv/bin/python benchmarks/crosssell_uci_steps.py [--folds 5] [--seeds 18,19,20]
        [--cv shuffled|month] [--steps base,features,...]

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
- order_…: `features` + columns from the contact order (`row_id`, the row number of the
  original file, which is sorted by contact date), built only from what a bank knows before
  the call (see ContactOrder): the name lists the parts, joined by `_`:
  `k300` the conversion rate of the previous 300 contacts whose outcome is known (repeatable:
  `order_k30_k100`), `g50` leaving out the 50 row_ids just before the call (outcomes not known
  yet), `int` campaign intensity (contacts earlier the same day, the previous day's contacts
  and conversion rate), `person1000` the same person (identical age, job, marital, education,
  default, housing, loan) contacted in the previous 1000 row_ids and how that ended, `rowid`
  the row_id itself as a time index; `order_mix` = k30, k100, int, rowid. Every order column of
  a held-out row comes from the training fold's labels only (a training row's from the other
  training rows strictly before it), which is what `kefu crosssell eval` can do with TRAIN's
  labels for TEST's rows. `bag_order_mix`: the product's bag of five on `order_mix`.

With more than one seed the folds are repeated (stratified, one set per seed; `--cv month`
takes one); the last lines give each step's mean ± sd and its per-fold difference from
`features` on the same folds (mean, and on how many folds the step is better).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import re
import time
from collections.abc import Iterator
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
    parser.add_argument("--seeds", default="18", help="shuffled CV: one set of folds per seed")
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
    seeds = [int(x) for x in args.seeds.split(",")]
    for fold, (tr, te) in enumerate(_folds(args.cv, args.folds, seeds, rows, y)):
        train, test = [rows[i] for i in tr], [rows[i] for i in te]
        scores: dict[str, np.ndarray] = {}
        for step in steps:
            started = time.process_time()
            scores[step] = _score(step, train, y[tr], test, scores)
            aucs[step].append(roc_auc_score(y[te], scores[step]))
            print(f"fold={fold} step={step} auc={aucs[step][-1]:.4f} "
                  f"cpu_s={time.process_time() - started:.1f}", flush=True)  # fmt: skip
    for step in steps:
        line = f"mean step={step} auc={np.mean(aucs[step]):.4f} sd={np.std(aucs[step]):.4f}"
        if "features" in aucs and step != "features":
            delta = np.array(aucs[step]) - np.array(aucs["features"])
            line += (f" delta_vs_features={delta.mean():+.4f} sd={delta.std():.4f} "
                     f"better_on={int((delta > 0).sum())}/{len(delta)}")  # fmt: skip
        print(line)


def _folds(
    cv: str, k: int, seeds: list[int], rows: list, y: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if cv == "month":
        months = [f"{r['emp.var.rate']}|{r['cons.price.idx']}|{r['cons.conf.idx']}" for r in rows]
        yield from GroupKFold(k).split(rows, y, months)
        return
    for seed in seeds:
        yield from StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, y)


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
    if step.startswith(("order_", "bag_order_")):
        return _order(step, train, y, test)
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


def _order(step: str, train: list, y: np.ndarray, test: list) -> np.ndarray:
    """`features` (or the product's bag of five) + the contact-order columns of ``step``."""
    parts = step.removeprefix("bag_").removeprefix("order_").split("_")
    if parts == ["mix"]:
        parts = ["k30", "k100", "int", "rowid"]
    spec: dict = {"windows": [], "gap": 0, "person": 0, "intensity": False, "row_index": False}
    for part in parts:
        if m := re.fullmatch(r"k(\d+)", part):
            spec["windows"].append(int(m[1]))
        elif m := re.fullmatch(r"g(\d+)", part):
            spec["gap"] = int(m[1])
        elif m := re.fullmatch(r"person(\d+)", part):
            spec["person"] = int(m[1])
        elif part in ("int", "rowid"):
            spec["intensity" if part == "int" else "row_index"] = True
        else:
            raise SystemExit(f"step {step}: unknown part {part!r}")
    features = p.RichUciFeatures(train)
    order = ContactOrder(train, y, **spec)
    x_train = np.hstack([features.matrix(train), order.matrix(train)])
    x_test = np.hstack([features.matrix(test), order.matrix(test)])
    categorical = features.categorical + [False] * order.width
    bag = step.startswith("bag_")
    model = p.Bagged(categorical, n=5) if bag else p.Propensity(categorical)
    model.fit(x_train, y)
    with p.one_thread():
        return model.predict(x_test)


PERSON = ("age", "job", "marital", "education", "default", "housing", "loan")


def _day(row: dict[str, str]) -> str:
    # A month is its macro tuple (it changes monthly); a day is a run of one weekday in it.
    return "|".join(row[c] for c in ("emp.var.rate", "cons.price.idx", "cons.conf.idx",
                                     "day_of_week"))  # fmt: skip


class ContactOrder:
    """Columns from the contact order, from the labelled rows given (``labelled``, ``y``) only,
    and for any row only from labelled rows *strictly before it* (row_id): a row's own label
    and every later label never enter its columns, so the columns of a training row and of a
    test row are built alike (a training row is not in its own window: its id is not < itself).

    - windows: for each K, the conversion rate of the K labelled contacts just before
      row_id − gap (a gap leaves out outcomes that may not be known yet at the call);
    - intensity: labelled contacts earlier the same day, the previous day's labelled contacts
      and their conversion rate (contact counts are known at once; the previous day is over);
    - person: the same person (identical PERSON fields) contacted within the previous
      ``person`` row_ids: 1/0, that contact's outcome, how many row_ids ago;
    - row_index: row_id itself — a time index that only extrapolates into a month not seen.
    """

    def __init__(
        self,
        labelled: list[dict[str, str]],
        y: np.ndarray,
        *,
        windows: list[int],
        gap: int = 0,
        person: int = 0,
        intensity: bool = False,
        row_index: bool = False,
    ) -> None:
        order = np.argsort([int(r["row_id"]) for r in labelled], kind="stable")
        self.ids = np.array([int(labelled[i]["row_id"]) for i in order])
        ys = np.asarray(y)[order]
        self.cum = np.concatenate([[0], np.cumsum(ys)])  # labels before index i: cum[i]
        self.windows, self.gap, self.person = windows, gap, person
        self.intensity, self.row_index = intensity, row_index
        self.days = [_day(labelled[i]) for i in order]
        changes = [a != b for a, b in zip(self.days, self.days[1:], strict=False)]
        run = np.concatenate([[0], np.cumsum(changes)])
        self.run = run.astype(int)
        self.run_start = np.searchsorted(self.run, np.arange(self.run[-1] + 2), "left")
        self.people: dict[tuple[str, ...], tuple[list[int], list[int]]] = {}
        for i, label in zip(order, ys, strict=True):
            ids, labels = self.people.setdefault(tuple(labelled[i][c] for c in PERSON), ([], []))
            ids.append(int(labelled[i]["row_id"]))
            labels.append(int(label))

    @property
    def width(self) -> int:
        return (len(self.windows) + 3 * self.intensity + 3 * bool(self.person)
                + int(self.row_index))  # fmt: skip

    def matrix(self, rows: list[dict[str, str]]) -> np.ndarray:
        out = np.full((len(rows), self.width), np.nan)
        for i, row in enumerate(rows):
            t = int(row["row_id"])
            known = int(np.searchsorted(self.ids, t - self.gap, "left"))  # ids < t - gap
            values: list[float] = []
            for k in self.windows:
                lo = max(known - k, 0)
                values.append((self.cum[known] - self.cum[lo]) / (known - lo) if known > lo
                              else np.nan)  # fmt: skip
            if self.intensity:
                values += self._intensity(t, _day(row))
            if self.person:
                values += self._person(t, tuple(row[c] for c in PERSON))
            if self.row_index:
                values.append(float(t))
            out[i] = values
        return out

    def _intensity(self, t: int, day: str) -> list[float]:
        before = int(np.searchsorted(self.ids, t, "left"))
        if before == 0:
            return [0.0, np.nan, np.nan]
        last = int(self.run[before - 1])
        same_day = self.days[before - 1] == day
        today = before - self.run_start[last] if same_day else 0
        previous = last - 1 if same_day else last
        if previous < 0:
            return [float(today), np.nan, np.nan]
        a, b = self.run_start[previous], self.run_start[previous + 1]
        return [float(today), float(b - a), (self.cum[b] - self.cum[a]) / (b - a)]

    def _person(self, t: int, key: tuple[str, ...]) -> list[float]:
        ids, labels = self.people.get(key, ([], []))
        j = bisect.bisect_left(ids, t) - 1
        if j >= 0 and ids[j] >= t - self.person:
            return [1.0, float(labels[j]), float(t - ids[j])]
        return [0.0, np.nan, np.nan]


if __name__ == "__main__":
    main()
